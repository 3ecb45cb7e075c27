import type { TMessage, TSampling } from '@/db/schema';

/**
 * The pieces of the OpenAI-compatible protocol that every client of a model endpoint shares
 * (live streaming, sampling, scoring): messages on the wire, sampling fields, which statuses are
 * worth a retry, and error text that never leaks the API key.
 */

/** A message as the endpoint expects it: only the fields that are set. */
export function toWireMessage(m: TMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.name !== undefined) out.name = m.name;
  if (m.tool_calls?.length) out.tool_calls = m.tool_calls;
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  return out;
}

export function wireMessages(messages: TMessage[]): Record<string, unknown>[] {
  return messages.map(toWireMessage);
}

/** The sampling fields that are set, later sources overriding earlier ones field by field. */
export function samplingFields(...sources: (TSampling | undefined)[]): TSampling {
  const out: TSampling = {};
  for (const source of sources) {
    if (!source) continue;
    if (source.temperature !== undefined) out.temperature = source.temperature;
    if (source.top_p !== undefined) out.top_p = source.top_p;
    if (source.max_tokens !== undefined) out.max_tokens = source.max_tokens;
  }
  return out;
}

/** 408, 429 and 5xx are transient on every server we know; 4xx otherwise is a setup problem. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function redactKey(text: string, key: string | undefined): string {
  return key ? text.split(key).join('[redacted]') : text;
}

/** The error text of a failed response body, in the shapes OpenAI, vLLM, TGI and Ollama use. */
export function errorMessageOf(body: string, fallback: string | undefined): string {
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown; detail?: unknown };
    const error = json.error as { message?: unknown } | string | undefined;
    const message = typeof error === 'string' ? error : (error?.message ?? json.message ?? json.detail);
    if (typeof message === 'string' && message.trim()) return message.trim().slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 500) || fallback || 'no error message';
}

/**
 * Model output as PostgreSQL can store it: text and jsonb refuse U+0000, which a model's
 * byte-level tokenizer can emit. The character carries nothing a reader sees.
 */
export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
