/**
 * Semantic dedup at scale: 20,000 generated prompts (BENCH_ITEMS), a fifth of them near-copies of
 * others (re-cased, or one word longer), embedded in batches through transformers.js and
 * onnxruntime, then the greedy selection at the default threshold. The model is
 * PAIRWISE_EMBEDDING_MODEL when set, else the tiny generated one (64 dimensions, a bag of words:
 * its embedding speed is the pipeline's overhead, not a real encoder's). The selection is also
 * timed on random 384-dimensional vectors, the size of all-MiniLM-L6-v2's, with the same
 * duplicate structure.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embeddingConfigFromEnv, embedTexts, loadEmbeddingModel } from '@/server/ml/embeddings';
import { createRng } from '@/server/ml/random';
import { DEFAULT_DEDUP_THRESHOLD, selectDiverse } from '@/server/ml/semantic-dedup';
import { makeTinyEmbeddingModel } from '../fixtures/make-tiny-embedding-model';
import { TINY_WORDS } from '../fixtures/make-tiny-tokenizer';
import { round } from './bench-database';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 20_000);
const DUPLICATE_SHARE = 0.2;
const REAL_DIM = 384;

interface TBenchItem {
  id: number;
  text: string;
  quality: number;
  /** The item this one copies, or -1. */
  source: number;
}

function generateItems(n: number, rng: ReturnType<typeof createRng>): TBenchItem[] {
  const items: TBenchItem[] = [];
  const word = () => TINY_WORDS[rng.int(TINY_WORDS.length)]!;
  for (let id = 0; id < n; id++) {
    const quality = rng.float();
    if (id > 0 && rng.float() < DUPLICATE_SHARE) {
      const source = rng.int(id);
      const original = items[source]!.text;
      const text = rng.float() < 0.5 ? original.toUpperCase() : `${original} ${word()}`;
      items.push({ id, text, quality, source });
    } else {
      const length = 12 + rng.int(13);
      items.push({ id, text: Array.from({ length }, word).join(' '), quality, source: -1 });
    }
  }
  return items;
}

/** Vectors with the items' duplicate structure: a copy is its source plus a little noise. */
function randomVectors(items: TBenchItem[], dim: number, rng: ReturnType<typeof createRng>): Float32Array {
  const vectors = new Float32Array(items.length * dim);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
  for (const item of items) {
    const row = item.id * dim;
    for (let k = 0; k < dim; k++) {
      vectors[row + k] = item.source < 0 ? normal() : vectors[item.source * dim + k]! + 0.1 * normal();
    }
  }
  return vectors;
}

export async function run(): Promise<void> {
  const rng = createRng(3);
  const items = generateItems(ITEMS, rng);
  const copies = items.filter((item) => item.source >= 0).length;
  console.log(`${ITEMS.toLocaleString('en')} texts, ${copies.toLocaleString('en')} near-copies, threshold ${DEFAULT_DEDUP_THRESHOLD}`);

  const configured = embeddingConfigFromEnv();
  let tmp: string | null = null;
  if (!configured.model) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-embedding-'));
    makeTinyEmbeddingModel(tmp);
  }
  try {
    const model = await loadEmbeddingModel(tmp ? { model: tmp } : configured);
    console.log(`model: ${tmp ? 'tiny generated model' : model.name}, ${model.dim} dimensions`);

    let t = performance.now();
    let lastLine = 0;
    const vectors = await embedTexts(
      model,
      items.map((item) => item.text),
      {
        batchSize: 64,
        onProgress: ({ done, total }) => {
          if (done - lastLine >= 5000 || done === total) {
            lastLine = done;
            console.log(`  embedded ${done.toLocaleString('en')} / ${total.toLocaleString('en')}`);
          }
        },
      },
    );
    const embedSeconds = (performance.now() - t) / 1000;
    console.log(`embedding: ${embedSeconds.toFixed(2)} s, ${Math.round(ITEMS / embedSeconds).toLocaleString('en')} items/s`);

    t = performance.now();
    const result = selectDiverse(items, vectors, model.dim, { threshold: DEFAULT_DEDUP_THRESHOLD });
    const selectSeconds = (performance.now() - t) / 1000;
    console.log(
      `selection (${model.dim} dimensions): ${selectSeconds.toFixed(2)} s, ${Math.round(ITEMS / selectSeconds).toLocaleString('en')} items/s; kept ${result.kept.length.toLocaleString('en')}, dropped ${result.dropped.length.toLocaleString('en')}`,
    );

    const real = randomVectors(items, REAL_DIM, rng);
    t = performance.now();
    const realResult = selectDiverse(items, real, REAL_DIM, { threshold: DEFAULT_DEDUP_THRESHOLD });
    const realSeconds = (performance.now() - t) / 1000;
    console.log(
      `selection (${REAL_DIM} dimensions, random vectors): ${realSeconds.toFixed(2)} s, ${Math.round(ITEMS / realSeconds).toLocaleString('en')} items/s; kept ${realResult.kept.length.toLocaleString('en')}, dropped ${realResult.dropped.length.toLocaleString('en')}`,
    );

    console.log(
      JSON.stringify({
        bench: 'sem-dedup',
        items: ITEMS,
        dim: model.dim,
        embed_items_per_s: Math.round(ITEMS / embedSeconds),
        select_items_per_s: Math.round(ITEMS / selectSeconds),
        select_384_items_per_s: Math.round(ITEMS / realSeconds),
        embed_s: round(embedSeconds, 2),
        select_s: round(selectSeconds, 2),
        select_384_s: round(realSeconds, 2),
        kept: result.kept.length,
        dropped: result.dropped.length,
      }),
    );
    await model.dispose();
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}
