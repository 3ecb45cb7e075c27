import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const checkScript = path.resolve(import.meta.dirname, '../fixtures/python/check_training_file.py');

/**
 * A Python that can import Hugging Face `datasets` (and pyarrow), for checks that load exported
 * files the way trainers do: PAIRWISE_TEST_PYTHON, else the host venv (PAIRWISE_HOST_VENV or
 * .venv), else python3. When none can, `why` says what was tried, for the test's skip message.
 */
export function datasetsPython(): { python: string } | { why: string } {
  const venv = path.resolve(process.env.PAIRWISE_HOST_VENV ?? '.venv', 'bin', 'python');
  const candidates = [process.env.PAIRWISE_TEST_PYTHON, fs.existsSync(venv) ? venv : undefined, 'python3'].filter((c): c is string => Boolean(c));
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import datasets, pyarrow'], { stdio: 'ignore' }).status === 0) return { python };
  }
  return { why: `no Python with datasets and pyarrow (tried ${candidates.join(', ')}): set PAIRWISE_TEST_PYTHON to one to run this check` };
}

/**
 * Runs tests/fixtures/python/check_training_file.py on a file: loads it with
 * `datasets.load_dataset` and renders every conversation with Llama 3.1's chat template.
 */
export function checkTrainingFile(python: string, file: string, options: { chunksize?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const args = [checkScript, file, ...(options.chunksize ? ['--chunksize', String(options.chunksize)] : [])];
  // A cache of its own: `datasets` would otherwise reuse what it built from an earlier file of the same name.
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-hf-cache-'));
  try {
    const env = { ...process.env, HF_DATASETS_CACHE: cache, HF_DATASETS_OFFLINE: '1', HF_HUB_OFFLINE: '1', HF_DATASETS_DISABLE_PROGRESS_BARS: '1' };
    const run = spawnSync(python, args, { encoding: 'utf8', env, timeout: 120_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}
