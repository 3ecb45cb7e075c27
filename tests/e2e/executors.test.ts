/**
 * The executors page, as a platform admin uses it in Chromium against the running app: add a local
 * executor (a bad config answered under its field), edit it, test its connection, read the
 * GPU-hours of its runs, disable it, and delete it once no run is active.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { slurmUnavailable, startSlurmCluster } from '../slurm/cluster';
import { appDatabase, appUrl, artifact, demoAccounts, signIn } from '../helpers/e2e-app';

/** Untrusted text (a round's name here) must reach the page as these characters, never as markup. */
const hostile = '<img src=x onerror="window.__pwned=1">';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

const row = (page: Page, name: string) => page.locator(`tr[data-executor="${name}"]`);
const cell = (page: Page, name: string, column: number) => row(page, name).locator('td').nth(column);

describe('executors page', () => {
  it('an admin adds, edits, tests, reads the GPU-hours of, disables and deletes an executor', async () => {
    const admin = demoAccounts().find((a) => a.role === 'admin')!;
    const name = `e2e-box-${randomBytes(3).toString('hex')}`;
    const missingVar = `E2E_UNSET_${randomBytes(3).toString('hex').toUpperCase()}`;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await signIn(page, admin);

    // From the admin navigation.
    await page.getByRole('link', { name: 'Executors', exact: true }).click();
    await page.waitForURL(/\/admin\/executors$/);
    await page.getByRole('heading', { name: 'Executors' }).waitFor();

    // Add: every kind is offered; a relative workdir is refused under the config, which gets the focus.
    await page.getByRole('button', { name: 'Add executor' }).click();
    const kinds = await page.getByLabel('Kind').locator('option').allTextContents();
    expect(kinds).toEqual(['local', 'ray', 'kubernetes', 'slurm']);
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Config (JSON)').fill('{"workdir": "relative/dir"}');
    await page.getByRole('button', { name: 'Add executor' }).last().click();
    const configError = page.locator('#executor-config-error');
    await configError.waitFor();
    expect(await configError.textContent()).toBe('config.workdir: must be an absolute path');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('executor-config');
    expect(await page.getByLabel('Config (JSON)').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: artifact('executors-field-error.png'), fullPage: true });
    // Not JSON at all: said before anything is sent.
    await page.getByLabel('Config (JSON)').fill('{"workdir": ');
    await page.getByRole('button', { name: 'Add executor' }).last().click();
    await expect.poll(() => configError.textContent()).toMatch(/^config: not valid JSON/);

    const workdir = os.tmpdir();
    await page.getByLabel('Config (JSON)').fill(JSON.stringify({ workdir, gpus: ['0', '1'] }));
    await page.getByRole('button', { name: 'Add executor' }).last().click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toBe(`Added ${name}.`);
    await row(page, name).waitFor();
    expect(await cell(page, name, 1).textContent()).toBe('local');
    expect(await cell(page, name, 2).textContent()).toBe('enabled');

    // Edit: a secret reference this web server lacks shows as a warning.
    await page.getByRole('button', { name: `Edit: ${name}` }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('executor-name');
    expect(await page.getByLabel('Kind').isDisabled()).toBe(true);
    await page.getByLabel('Config (JSON)').fill(JSON.stringify({ workdir, gpus: ['0', '1'], secretEnv: { HF_TOKEN: missingVar } }, null, 2));
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toBe(`Saved ${name}.`);
    await expect.poll(() => cell(page, name, 7).textContent()).toBe(`⚠ not set here: $${missingVar}`);

    // Connection test: each check with its detail.
    await page.getByRole('button', { name: `Test connection: ${name}` }).click();
    const result = page.getByRole('region', { name: `Connection test of ${name}` });
    await result.waitFor();
    expect(await result.getByRole('status').textContent()).toBe('Some checks failed.');
    const checks = await result.locator('li').allInnerTexts();
    expect(checks.map((c) => c.replace(/\s+/g, ' ').trim())).toEqual([`failed $${missingVar} not set in this process (the worker needs it)`, `ok workdir ${workdir}`, 'ok gpus devices 0,1']);
    await page.screenshot({ path: artifact('executors-connection-test.png'), fullPage: true });

    // GPU-hours of runs the database holds for it: 3 GPU-hours that ended an hour ago, and one run still submitted.
    const sql = await appDatabase();
    let activeRunId: number;
    try {
      const [executor] = await sql<{ id: number }[]>`select id from executors where name = ${name}`;
      const [round] = await sql<{ id: number }[]>`insert into rounds (name, status, plan, executor_id) values (${`round ${hostile}`}, 'running', ${sql.json({})}, ${executor!.id}) returning id`;
      await sql`insert into runs (round_id, stage, kind, status, spec, executor_id, gpus, gpu_seconds, attempt, external_id, started_at, finished_at)
        values (${round!.id}, 0, 'reward', 'succeeded', ${sql.json({})}, ${executor!.id}, 2, ${3 * 3600}, 0, ${`pairwise-run-e2e-0`}, now() - interval '150 minutes', now() - interval '1 hour')`;
      const [active] = await sql<{ id: number }[]>`insert into runs (round_id, stage, kind, status, spec, executor_id, gpus, attempt, external_id)
        values (${round!.id}, 1, 'sft', 'submitted', ${sql.json({})}, ${executor!.id}, 2, 0, 'pairwise-run-e2e-1') returning id`;
      activeRunId = active!.id;
    } finally {
      await sql.end();
    }
    await page.reload();
    await row(page, name).waitFor();
    await expect.poll(() => cell(page, name, 3).textContent()).toBe('3.0');
    expect(await cell(page, name, 4).textContent()).toBe('3.0');
    expect(await cell(page, name, 5).textContent()).toBe('3.0');
    expect(await cell(page, name, 6).textContent()).toBe('1');

    // Its runs, with the round as text and a link to the rounds page.
    await page.getByRole('button', { name: `Runs: ${name}` }).click();
    const runs = page.getByRole('table', { name: `Runs on ${name}` });
    await runs.waitFor();
    const runRows = await runs.locator('tbody tr').allInnerTexts();
    expect(runRows).toHaveLength(2);
    expect(runRows[0]).toContain('submitted');
    expect(runRows[1]).toMatch(/reward\s+succeeded\s+0\s+pairwise-run-e2e-0\s+3\.0/);
    const roundLink = runs.getByRole('link', { name: `round ${hostile}` }).first();
    expect(await roundLink.getAttribute('href')).toMatch(/^\/admin\/rounds\?round=\d+$/);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await page.screenshot({ path: artifact('executors-page.png'), fullPage: true });

    // Disable, then delete: refused while a run is active (the server's words), done once it is not.
    await page.getByRole('button', { name: `Disable: ${name}` }).click();
    await expect.poll(() => cell(page, name, 2).textContent()).toBe('disabled');
    await page.getByRole('button', { name: `Delete: ${name}` }).click();
    await row(page, name).getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'active on this executor' }).count()).toBe(1);
    expect(await page.getByRole('alert').filter({ hasText: 'active on this executor' }).textContent()).toBe('1 run(s) are active on this executor: cancel them or disable the executor instead');
    await page.screenshot({ path: artifact('executors-delete-refused.png'), fullPage: true });

    const again = await appDatabase();
    try {
      await again`update runs set status = 'cancelled', finished_at = now() where id = ${activeRunId!}`;
    } finally {
      await again.end();
    }
    await page.getByRole('button', { name: `Delete: ${name}` }).click();
    await row(page, name).getByRole('button', { name: 'Delete', exact: true }).click();
    await expect.poll(() => page.getByRole('status').first().textContent()).toBe(`Deleted ${name}.`);
    expect(await row(page, name).count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  // A real Slurm cluster on this machine (tests/slurm/cluster.ts), as root with Debian's slurm-wlm; CI has both.
  const slurmMissing = slurmUnavailable();
  if (slurmMissing && process.env.CI) throw new Error(`the Slurm part of the executors page test cannot run under CI: ${slurmMissing}`);
  it.skipIf(Boolean(slurmMissing))('a Slurm executor’s connection test shows the cluster’s partitions, nodes and GPUs', async () => {
    const cluster = await startSlurmCluster();
    const admin = demoAccounts().find((a) => a.role === 'admin')!;
    const name = `e2e-slurm-${randomBytes(3).toString('hex')}`;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, admin);
      await page.goto(`${appUrl()}/admin/executors`);
      await page.getByRole('heading', { name: 'Executors' }).waitFor();
      await page.getByRole('button', { name: 'Add executor' }).first().click();
      await page.getByLabel('Name').fill(name);
      await page.getByLabel('Kind').selectOption('slurm');
      await page.getByLabel('Config (JSON)').fill(JSON.stringify({ slurmConf: cluster.conf, partition: 'debug', timeLimit: '1-00:00:00' }));
      await page.getByRole('button', { name: 'Add executor' }).last().click();
      await row(page, name).waitFor();
      expect(await cell(page, name, 1).textContent()).toBe('slurm');

      await page.getByRole('button', { name: `Test connection: ${name}` }).click();
      const result = page.getByRole('region', { name: `Connection test of ${name}` });
      await result.getByRole('table', { name: 'Queues' }).waitFor({ timeout: 60_000 });
      expect(await result.getByRole('status').textContent()).toBe('Every check passed.');
      const checks = (await result.locator('li').allInnerTexts()).map((c) => c.replace(/\s+/g, ' ').trim());
      expect(checks[0]).toMatch(/^ok Slurm slurm(-wlm)? \d+\.\d+/);
      expect(checks).toContain('ok partitions 2 partition(s), 2 node(s)');
      expect(checks.at(-1)).toMatch(/^ok trial job \(sbatch --test-only\) Job \d+ to start at .* in partition debug$/);
      const rows = (await result.getByRole('table', { name: 'Queues' }).locator('tbody tr').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
      expect(rows).toEqual(['debug(default) up 2 / 2 4 / 4 infinite 0 / 0', 'long up 2 / 2 4 / 4 2-00:00:00 0 / 0']);
      await page.screenshot({ path: artifact('executors-slurm-queues.png'), fullPage: true });
      await page.getByRole('button', { name: `Delete: ${name}` }).click();
      await row(page, name).getByRole('button', { name: 'Delete', exact: true }).click();
      await expect.poll(() => row(page, name).count()).toBe(0);
    } finally {
      await page.close();
      await cluster.stop();
    }
  });

  it('is for platform admins only', async () => {
    const annotator = demoAccounts().find((a) => a.role === 'annotator')!;
    const page = await browser.newPage();
    await signIn(page, annotator);
    const response = await page.goto(`${appUrl()}/admin/executors`);
    expect(response?.status()).toBe(404);
    expect(await page.getByRole('link', { name: 'Executors', exact: true }).count()).toBe(0);
    const docs = await page.goto(`${appUrl()}/admin/executors/docs`);
    expect(docs?.status()).toBe(404);
    await page.close();
  });
});
