import { hasPromptText } from '../../content/schemas';
import { isPlainObject, LineError, parseWith, plainMessages, type TComparisonRecord } from '../records';
import { MAX_RESPONSES, ZNativeComparisonLine } from '../schemas';

/**
 * The native format: `{"id"?, "prompt", "responses": [{"content", "model"?}], "metadata"?, "gold"?}`
 * (see docs/data-formats.md and ../schemas.ts).
 */
export function nativeRecord(json: unknown): TComparisonRecord {
  return plainNative(json) ?? schemaNative(json);
}

function schemaNative(json: unknown): TComparisonRecord {
  const data = parseWith(ZNativeComparisonLine, json, '');
  if (data.gold && data.responses.length !== 2) throw new LineError('gold: only pairs can be gold items');
  return { kind: 'comparison', id: data.id, prompt: data.prompt, responses: data.responses, metadata: data.metadata, gold: data.gold };
}

const LINE_KEYS = new Set(['id', 'prompt', 'responses', 'metadata']);

/**
 * The common case without the schema (a third of an import's time went to it): plain string or
 * `{role, content}` messages, no gold, no extra keys. Anything else returns null and takes the
 * schema, which is the authority; for what this accepts, both give the same record.
 */
function plainNative(json: unknown): TComparisonRecord | null {
  if (!isPlainObject(json)) return null;
  for (const key in json) if (!LINE_KEYS.has(key)) return null;
  let id: string | undefined;
  const rawId = json.id;
  if (typeof rawId === 'string' && rawId.length >= 1 && rawId.length <= 200) id = rawId;
  else if (typeof rawId === 'number' && Number.isSafeInteger(rawId)) id = String(rawId);
  else if (rawId !== undefined) return null;
  const prompt = plainMessages(json.prompt, 'user');
  // A prompt of blank turns takes the schema, which names the field in its refusal.
  if (!prompt || !hasPromptText(prompt)) return null;
  const raw = json.responses;
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > MAX_RESPONSES) return null;
  const responses: TComparisonRecord['responses'] = [];
  for (const r of raw) {
    if (!isPlainObject(r)) return null;
    for (const key in r) if (key !== 'content' && key !== 'model') return null;
    const content = plainMessages(r.content, 'assistant');
    if (!content) return null;
    if (r.model === undefined) responses.push({ content });
    else if (typeof r.model === 'string' && r.model.length <= 200) responses.push({ content, model: r.model });
    else return null;
  }
  const metadata = json.metadata;
  if (metadata !== undefined && !isPlainObject(metadata)) return null;
  return { kind: 'comparison', id, prompt, responses, metadata };
}
