import { randomBytes } from 'node:crypto';
import type { TDbHandle } from '@/db/client';
import { models, runs, type TMessage, type TSampling } from '@/db/schema';
import { canonicalMessagesJson, sha256 } from '@/server/imports/records';
import type { TRunRow } from '@/server/runs/run-state';

const unique = () => randomBytes(4).toString('hex');

/** Registers a model; names are made unique, the base URL points at a fake. */
export async function addModel(
  handle: TDbHandle,
  input: { kind: 'policy' | 'reward'; baseUrl: string; apiModel: string; serving?: 'openai' | 'vllm-classify' | 'onnx-local'; sampling?: TSampling; artifactUri?: string; apiKeyEnv?: string },
) {
  const [row] = await handle.db
    .insert(models)
    .values({
      name: `${input.apiModel}-${unique()}`,
      kind: input.kind,
      baseUrl: input.baseUrl,
      apiModel: input.apiModel,
      serving: input.serving ?? (input.kind === 'policy' ? 'openai' : 'vllm-classify'),
      sampling: input.sampling ?? {},
      artifactUri: input.artifactUri ?? null,
      apiKeyEnv: input.apiKeyEnv ?? null,
    })
    .returning();
  return row!;
}

/** Adds prompts to a project (one user message each, or the given conversations); returns their ids in order. */
export async function addPrompts(handle: TDbHandle, projectId: number, prompts: (string | TMessage[])[]): Promise<number[]> {
  const ids: number[] = [];
  for (const prompt of prompts) {
    const messages: TMessage[] = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
    const json = canonicalMessagesJson(messages);
    const [row] = await handle.sql<{ id: string }[]>`
      insert into prompts (project_id, messages, content_hash) values (${projectId}, ${json}::jsonb, ${sha256(json)}) returning id`;
    ids.push(Number(row!.id));
  }
  return ids;
}

export async function addRun(handle: TDbHandle, kind: 'rejection-sampling' | 'generate', spec: Record<string, unknown>, roundId: number | null = null): Promise<TRunRow> {
  const [row] = await handle.db.insert(runs).values({ kind, spec, roundId }).returning();
  return row!;
}

export async function runItemCount(handle: TDbHandle, runId: number): Promise<number> {
  const [row] = await handle.sql<{ n: number }[]>`select count(*)::int as n from run_items where run_id = ${runId}`;
  return row!.n;
}

/** Resolves once `condition` holds (checked every `everyMs`), or throws after `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean> | boolean, { timeoutMs = 20_000, everyMs = 10 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The last user message of a chat request body: which prompt a request was for. */
export function lastUserText(body: { messages?: { role: string; content: string }[] }): string {
  return [...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
}
