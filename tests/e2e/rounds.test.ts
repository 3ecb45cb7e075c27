import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { appDatabase, appUrl as appUrlOf, artifact, cli, demoAccounts, signIn, type TAccount } from '../helpers/e2e-app';

const appUrl = appUrlOf();
const policyName = 'llama-r1-policy';
const executorName = 'two-gpu-box';
/** Stage errors come from executors and logs: untrusted text, to be shown as these characters. */
const hostile = '<img src=x onerror="window.__pwned=1">';

const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });

/** The error shown under a form field (its id is the control's id + "-error"). */
async function fieldError(page: Page, label: string): Promise<string | null> {
  const id = await field(page, label).getAttribute('id');
  const error = page.locator(`#${id}-error`);
  return (await error.count()) ? error.textContent() : null;
}

/** The parts of the plan these tests read or change. */
type TPlanJson = Record<string, unknown> & {
  reward: { gpus: number };
  rejectionSampling: Record<string, unknown>;
  sft: { gpus: number; config: Record<string, unknown> };
  dpo: { gpus: number };
  register: Record<string, unknown>;
};

/** The plan the form builds, as the Advanced section shows it. */
async function planJson(page: Page): Promise<TPlanJson> {
  return JSON.parse(await page.getByLabel('Plan JSON').inputValue()) as TPlanJson;
}

describe('training rounds in the admin UI', () => {
  let browser: Browser;
  let admin: TAccount;
  let versionId: number;

  beforeAll(async () => {
    browser = await launchChromium();
    admin = demoAccounts().find((a) => a.role === 'admin') ?? demoAccounts()[0]!;
    await cli(['model', 'add', '--name', policyName, '--kind', 'policy', '--serving', 'none', '--artifact-uri', 'file:///models/llama-r1', '--base-model', 'meta-llama/Llama-3.1-8B-Instruct']);
    await cli(['executor', 'add', '--name', executorName, '--kind', 'local', '--config', JSON.stringify({ gpus: ['0', '1'] })]);
    const built = await cli(['dataset', 'build', '--project', 'demo', '--name', 'round data']);
    versionId = Number(built.stdout.trim().split('\n').at(-1));
    expect(versionId).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('builds the plan from the form, shows the server’s field errors where they belong, and launches only what was previewed', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    try {
      await signIn(page, admin);
      await page.goto(`${appUrl}/admin/rounds`);
      await page.getByRole('heading', { name: 'Launch a round' }).waitFor();

      // The tab order follows the form: name, policy, version, executor, then the plan's fields.
      await field(page, 'Round name').focus();
      const tabOrder: (string | undefined)[] = [];
      for (let i = 0; i < 6; i++) {
        await page.keyboard.press('Tab');
        tabOrder.push(await page.evaluate(() => document.activeElement?.id));
      }
      expect(tabOrder).toEqual(['round-policyModelId', 'round-datasetVersionId', 'round-executorId', 'round-baseModel', 'round-registerName', 'round-rewardGpus']);

      await field(page, 'Round name').fill('round 2');
      await field(page, 'Starting policy').selectOption({ label: `${policyName} (none)` });
      // The policy's base model and a registration name are filled in for the admin.
      expect(await field(page, 'Base model').inputValue()).toBe('meta-llama/Llama-3.1-8B-Instruct');
      expect(await field(page, 'Registration name').inputValue()).toBe(`${policyName}-next`);
      await field(page, 'Preference dataset version').selectOption(String(versionId));
      await field(page, 'Executor').selectOption({ label: `${executorName} (local)` });
      expect(await page.locator('#round-executorId-hint').textContent()).toContain('lists 2 GPU(s)');

      // The Llama 3 defaults are in place.
      expect(await field(page, 'Samples per prompt (K)').inputValue()).toBe('10');
      expect(await page.locator('#round-k-hint').textContent()).toContain('typically 10–30');
      expect(await field(page, 'Gate: minimum win-rate lower bound').inputValue()).toBe('0.5');
      expect(await field(page, 'Rejection sampling mode').inputValue()).toBe('host');
      expect(await field(page, 'Evaluation mode').inputValue()).toBe('host');
      const launchButton = page.getByRole('button', { name: 'Launch', exact: true });
      expect(await launchButton.isDisabled()).toBe(true);

      // Two GPUs for the reward model, but SFT keeps its default 8: the executor lists 2.
      await field(page, 'Reward model GPUs').fill('2');
      await field(page, 'Samples per prompt (K)').fill('20');
      await field(page, 'System prompts').fill('Answer concisely.\n\nThink step by step,\nthen give the result.');
      const plan = await planJson(page);
      expect(plan.reward.gpus).toBe(2);
      expect(plan.rejectionSampling).toMatchObject({ mode: 'host', k: 20, systemPrompts: ['Answer concisely.', 'Think step by step,\nthen give the result.'] });
      expect(plan.register).toMatchObject({ name: `${policyName}-next`, gate: { minWinRateLow: 0.5 } });

      await page.getByRole('button', { name: 'Preview configs and commands' }).click();
      await expect.poll(() => fieldError(page, 'SFT GPUs')).toBe(`the sft stage needs 8 GPU(s); the local executor ${executorName} lists 2`);
      expect(await field(page, 'SFT GPUs').getAttribute('aria-invalid')).toBe('true');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('round-sftGpus');
      expect(await fieldError(page, 'Reward model GPUs')).toBeNull();
      expect(await page.getByTestId('launch-error').count()).toBe(0);
      expect(await launchButton.isDisabled()).toBe(true);
      await page.screenshot({ path: artifact('rounds-launch-gpu-error.png'), fullPage: true });

      // Fixed: the error goes with the edit, and a preview of these values enables Launch.
      await field(page, 'SFT GPUs').fill('2');
      expect(await fieldError(page, 'SFT GPUs')).toBeNull();
      await field(page, 'DPO GPUs').fill('2');
      await page.getByRole('button', { name: 'Preview configs and commands' }).click();
      const preview = page.getByTestId('round-preview');
      await preview.waitFor();
      expect(await preview.locator('ol > li').count()).toBe(6);
      expect(await preview.textContent()).toContain('2 GPU(s)');
      await expect.poll(() => launchButton.isDisabled()).toBe(false);
      await page.screenshot({ path: artifact('rounds-launch-preview.png'), fullPage: true });

      // Any change makes the preview stale: Launch waits for a new one.
      await field(page, 'Evaluation prompts (max)').fill('150');
      expect(await launchButton.isDisabled()).toBe(true);
      expect(await page.locator('#launch-state').textContent()).toContain('preview again');

      // Endpoint mode: the reward model's /classify endpoint is asked for, and the server's
      // objections land on the field they are about, the policy's included.
      expect(await page.getByTestId('reward-endpoint').count()).toBe(0);
      await field(page, 'Rejection sampling mode').selectOption('endpoint');
      await page.getByTestId('reward-endpoint').waitFor();
      expect(await field(page, 'Rejection sampling GPUs').isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Preview configs and commands' }).click();
      await expect.poll(() => fieldError(page, 'Reward /classify base URL')).toContain('/classify');
      await field(page, 'Reward /classify base URL').fill('http://gpu-2:8000/v1');
      await field(page, 'Reward model name at the endpoint').fill('llama-r1-reward');
      await page.getByRole('button', { name: 'Preview configs and commands' }).click();
      await expect.poll(() => fieldError(page, 'Starting policy')).toContain('is not served');
      await page.screenshot({ path: artifact('rounds-launch-endpoint-error.png'), fullPage: true });
      await field(page, 'Rejection sampling mode').selectOption('host');
      expect(await page.getByTestId('reward-endpoint').count()).toBe(0);

      // Advanced: the JSON can be edited by hand (edits win), then loaded back into the form.
      await page.getByText('Advanced: the plan as JSON').click();
      const edited = await planJson(page);
      edited.sft.config = { learning_rate: 2e-5 };
      edited.dpo.gpus = 1;
      await page.getByLabel('Plan JSON').fill(JSON.stringify(edited, null, 2));
      expect(await field(page, 'DPO GPUs').isDisabled()).toBe(true);
      expect(await page.getByRole('status').filter({ hasText: 'edited by hand' }).count()).toBe(1);
      await page.getByRole('button', { name: 'Preview configs and commands' }).click();
      await expect.poll(() => launchButton.isDisabled()).toBe(false);
      expect(await page.getByTestId('round-preview').textContent()).toContain('learning_rate: 0.00002');
      await page.getByRole('button', { name: 'Update the form from the JSON' }).click();
      expect(await field(page, 'DPO GPUs').isDisabled()).toBe(false);
      expect(await field(page, 'DPO GPUs').inputValue()).toBe('1');
      // What the form has no field for stays as written, and the values are still the previewed ones.
      expect((await planJson(page)).sft.config).toEqual({ learning_rate: 2e-5 });
      expect(await launchButton.isDisabled()).toBe(false);

      // A JSON that is not JSON is refused before the server is asked.
      await page.getByLabel('Plan JSON').fill('{ "baseModel": ');
      expect(await launchButton.isDisabled()).toBe(true);
      expect(await page.locator('#plan-json-error').textContent()).toContain('not valid JSON');
      await page.getByRole('button', { name: 'Discard JSON edits' }).click();
      await page.getByRole('button', { name: 'Preview configs and commands' }).click();
      await expect.poll(() => launchButton.isDisabled()).toBe(false);

      // Launch: the round opens; this machine has no trainer, so the first stage fails and says why.
      await launchButton.click();
      await page.getByRole('heading', { name: /^round 2/ }).waitFor();
      await expect.poll(() => page.getByRole('list', { name: 'Stages' }).textContent()).toContain('reward');
      await expect.poll(async () => page.getByTestId('stage-error').count(), { timeout: 90_000, interval: 1000 }).toBeGreaterThan(0);
      expect(await page.getByTestId('stage-error').first().textContent()).toContain('The reward stage failed');
      await page.screenshot({ path: artifact('rounds-launched-failed.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('shows a failed gate with the evaluation and held-out numbers, and registers anyway with a reason', async () => {
    const sql = await appDatabase();
    const registerName = 'r1-gated-policy';
    let roundId: number;
    try {
      const [policy] = await sql<{ id: number }[]>`select id from models where name = ${policyName}`;
      const [executor] = await sql<{ id: number }[]>`select id from executors where name = ${executorName}`;
      const plan = { baseModel: 'meta-llama/Llama-3.1-8B-Instruct', reward: { gpus: 2 }, sft: { gpus: 2 }, dpo: { gpus: 2 }, register: { name: registerName } };
      const gate = { passed: false, threshold: 0.5, winRateLow: 0.38, reason: 'win-rate lower bound 0.380 <= 0.5' };
      const gateError = `the gate did not pass (${gate.reason}): the new policy is not registered. Retry the stage with an override reason to register it anyway.`;
      const [round] = await sql<{ id: number }[]>`
        insert into rounds (name, status, plan, policy_model_id, dataset_version_id, executor_id, current_stage, error, started_at, finished_at)
        values (${`round 1 ${hostile}`}, 'failed', ${sql.json(plan)}, ${policy!.id}, ${versionId}, ${executor!.id}, 5, ${gateError}, now() - interval '3 hours', now())
        returning id`;
      roundId = round!.id;
      const heldOut = {
        pairs: 40,
        accuracy: 0.725,
        byStrength: { better: { pairs: 28, accuracy: 0.6786 }, significantly_better: { pairs: 12, accuracy: 0.8333 } },
      };
      const evaluation = { mode: 'host', prompts: 50, wins: 24, losses: 22, ties: 4, winRate: 24 / 46, winRateWithTies: 0.52, interval: { low: 0.38, high: 0.66, level: 0.95 }, pValue: 0.88, gate };
      const stages: [string, Record<string, unknown>, Record<string, unknown>][] = [
        ['reward', { heldOut }, { runner: 'executor', command: ['accelerate', 'launch', 'train.py', 'reward'], configYaml: 'learning_rate: 2.0e-06\n' }],
        ['rejection-sampling', {}, {}],
        ['sft', {}, {}],
        ['dpo', {}, {}],
        ['eval', { eval: evaluation }, {}],
      ];
      for (const [stage, [kind, metrics, spec]] of stages.entries()) {
        await sql`insert into runs (round_id, stage, kind, status, spec, metrics, attempt, started_at, finished_at)
          values (${roundId}, ${stage}, ${kind}, 'succeeded', ${sql.json(spec as never)}, ${sql.json(metrics as never)}, 1, now() - interval '2 hours', now() - interval '1 hour')`;
      }
      const registerSpec = { name: registerName, artifactUri: 'file:///artifacts/runs/r1-dpo/output', serving: null, gate: { minWinRateLow: 0.5 } };
      await sql`insert into runs (round_id, stage, kind, status, spec, metrics, attempt, error, started_at, finished_at)
        values (${roundId}, 5, 'register', 'failed', ${sql.json(registerSpec)}, ${sql.json({ gate })}, 1, ${gateError}, now(), now())`;
      // A second round whose first stage the executor refused, in words that must stay words.
      const [refused] = await sql<{ id: number }[]>`
        insert into rounds (name, status, plan, policy_model_id, dataset_version_id, executor_id, current_stage, error, started_at, finished_at)
        values ('round 0', 'failed', ${sql.json(plan)}, ${policy!.id}, ${versionId}, ${executor!.id}, 0, ${`the executor refused the job: ${hostile} needs 8 GPUs`}, now(), now())
        returning id`;
      await sql`insert into runs (round_id, stage, kind, status, spec, attempt, error, started_at, finished_at)
        values (${refused!.id}, 0, 'reward', 'failed', ${sql.json({})}, 1, ${`the executor refused the job: ${hostile} needs 8 GPUs`}, now(), now())`;
    } finally {
      await sql.end();
    }

    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    try {
      await signIn(page, admin);
      await page.goto(`${appUrl}/admin/rounds`);

      await page.getByRole('button', { name: 'round 0' }).click();
      const refusal = page.getByTestId('stage-error');
      await refusal.waitFor();
      expect(await refusal.textContent()).toContain(`the executor refused the job: ${hostile} needs 8 GPUs`);
      expect(await page.getByRole('button', { name: 'Retry stage 1 (reward)' }).count()).toBe(1);

      await page.getByRole('button', { name: `round 1 ${hostile}` }).click();
      await page.getByRole('heading', { name: `round 1 ${hostile}` }).waitFor();
      expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator('main img').count()).toBe(0);

      // The reward model's held-out accuracy, by strength, strongest first.
      const table = page.getByRole('table', { name: /^Held-out accuracy/ });
      const rows = await table.locator('tbody tr').allTextContents();
      expect(rows).toEqual(['Significantly better1283.3%', 'Better2867.9%', 'All4072.5%']);
      // The gate's verdict, with its numbers, on the evaluation and on the register stage.
      const gates = page.getByTestId('gate');
      expect(await gates.count()).toBe(2);
      expect(await gates.first().textContent()).toContain('Gate failed');
      expect(await gates.first().textContent()).toContain('win-rate lower bound 38.0% ≤ threshold 50.0%');
      expect(await page.getByTestId('stage-error').textContent()).toContain('the gate did not pass');
      // The only way on is an override with a reason; a plain retry would meet the same gate.
      expect(await page.getByRole('button', { name: /^Retry stage/ }).count()).toBe(0);
      // Escape closes the reason form and gives the focus back to its button.
      await page.getByRole('button', { name: 'Register anyway…' }).click();
      await page.keyboard.press('Escape');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Register anyway…');
      await page.keyboard.press('Enter');
      const reason = page.getByLabel('Why register the new policy although the gate did not pass?');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('gate-override-reason');
      await page.screenshot({ path: artifact('rounds-gate-failed.png'), fullPage: true });
      await page.getByRole('button', { name: 'Register anyway', exact: true }).click();
      expect(await page.getByRole('form', { name: 'Register anyway' }).textContent()).toContain('Give a reason.');
      await reason.fill('The human evaluation favours the new policy; the automatic judge is the old reward model.');
      await page.getByRole('button', { name: 'Register anyway', exact: true }).click();

      // The worker runs the register stage again with the reason: the model is registered.
      await expect.poll(() => page.getByText(`Registered: ${registerName}`).count(), { timeout: 60_000, interval: 500 }).toBe(1);
      expect(await gates.last().textContent()).toContain('Registered anyway: The human evaluation favours the new policy');
      expect(await page.getByRole('button', { name: 'Register anyway…' }).count()).toBe(0);
      await page.screenshot({ path: artifact('rounds-registered-anyway.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
