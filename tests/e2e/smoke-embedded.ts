/**
 * Smoke test of the default installation: `npm start` without DATABASE_URL on a fresh data
 * folder (embedded PostgreSQL, migrations, demo seed, web, worker), /api/health, Ctrl-C;
 * then a second start on the same data, which must reuse it. Prints the timings.
 *   node --import tsx tests/e2e/smoke-embedded.ts
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp } from '../helpers/app-process';

async function startAndCheck(dataDir: string, label: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, PAIRWISE_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  const started = Date.now();
  const app = await startApp({ env });
  const seconds = (Date.now() - started) / 1000;
  const health = await fetch(`${app.baseUrl}/api/health`);
  assert.equal(health.status, 200, 'GET /api/health answers 200');
  const body = (await health.json()) as { database: { status: string } };
  assert.equal(body.database.status, 'ok');
  const output = app.output();
  const stoppedAt = Date.now();
  const code = await app.stop();
  const stopSeconds = (Date.now() - stoppedAt) / 1000;
  assert.equal(code, 0, `${label}: Ctrl-C exits cleanly\n${app.output().slice(-2000)}`);
  assert.ok(!fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid')), `${label}: PostgreSQL stopped`);
  console.log(`${label}: ready in ${seconds.toFixed(1)} s, stopped in ${stopSeconds.toFixed(1)} s`);
  return { seconds, output };
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-smoke-'));
  fs.chmodSync(dataDir, 0o755);
  try {
    const first = await startAndCheck(dataDir, 'first start');
    assert.match(first.output, /embedded PostgreSQL started/);
    assert.match(first.output, /demo accounts/);
    const credentials = path.join(dataDir, 'demo-credentials.txt');
    assert.equal(fs.statSync(credentials).mode & 0o777, 0o600, 'credentials file is mode 600');
    assert.equal(fs.readFileSync(credentials, 'utf8').trim().split('\n').length, 3);

    const second = await startAndCheck(dataDir, 'second start');
    assert.doesNotMatch(second.output, /demo accounts/, 'the demo seed runs once');
    assert.doesNotMatch(second.output, /initialising a new PostgreSQL cluster/, 'the data is reused');
    console.log(JSON.stringify({ smoke: 'embedded', first_start_s: +first.seconds.toFixed(1), second_start_s: +second.seconds.toFixed(1) }));
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
