import { readSseEvents } from '@/server/live/sse';

export type TSideOutcome = { ok: true } | { ok: false; message: string };

/**
 * Reads one side of a live turn from our stream route. fetch rather than EventSource: an
 * HTTP error keeps its status and message, and nothing reconnects behind our back (a retry
 * is the annotator's choice).
 */
export async function readLiveSide(turnId: number, side: 0 | 1, options: { signal: AbortSignal; onDelta: (text: string) => void }): Promise<TSideOutcome> {
  let response: Response;
  try {
    response = await fetch(`/api/live/turns/${turnId}/stream?side=${side}`, { signal: options.signal, cache: 'no-store' });
  } catch {
    return { ok: false, message: 'Could not reach the server. Check your connection.' };
  }
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => null)) as { error?: string } | null;
    return { ok: false, message: body?.error ?? `The server answered ${response.status}.` };
  }
  try {
    for await (const event of readSseEvents(response.body)) {
      const data = JSON.parse(event.data) as { text?: string; message?: string };
      if (event.event === 'delta' && data.text) options.onDelta(data.text);
      else if (event.event === 'done') return { ok: true };
      else if (event.event === 'error') return { ok: false, message: data.message ?? 'The model failed.' };
    }
  } catch {
    // a dropped connection; reported below
  }
  return { ok: false, message: 'The connection to the server was interrupted.' };
}
