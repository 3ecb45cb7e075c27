/**
 * Server-sent events (the WHATWG event-stream format), parsed incrementally. Pure TypeScript
 * with no Node imports: the server reads model endpoints with it and the browser reads our
 * own live stream route with it (fetch, not EventSource, so HTTP errors keep their status).
 */

export interface TSseEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  private dataLines: string[] = [];
  private eventName = '';
  private lastId: string | undefined;
  private hasData = false;
  private started = false;

  /** Feeds decoded text (any split: mid-line, mid-CRLF) and returns the events it completed. */
  push(text: string): TSseEvent[] {
    this.buffer += text;
    if (!this.started && this.buffer.length > 0) {
      this.started = true;
      if (this.buffer.startsWith('\uFEFF')) this.buffer = this.buffer.slice(1); // a byte-order mark is not part of the first line
    }
    const events: TSseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone "\r" at the very end may be the first half of "\r\n": wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  /**
   * The stream ended. Strictly, an event without its closing blank line is dropped; model
   * servers that close right after their last `data:` line exist, so it is delivered instead.
   */
  end(): TSseEvent[] {
    const events: TSseEvent[] = [];
    if (this.buffer.length > 0) {
      const event = this.line(this.buffer.replace(/\r$/, ''));
      this.buffer = '';
      if (event) events.push(event);
    }
    const last = this.dispatch();
    if (last) events.push(last);
    return events;
  }

  private line(line: string): TSseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null; // a comment, e.g. a keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.dataLines.push(value);
      this.hasData = true;
    } else if (field === 'event') this.eventName = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return null;
  }

  private dispatch(): TSseEvent | null {
    const hadData = this.hasData;
    const event: TSseEvent = { event: this.eventName || 'message', data: this.dataLines.join('\n') };
    if (this.lastId !== undefined) event.id = this.lastId;
    this.dataLines = [];
    this.eventName = '';
    this.hasData = false;
    return hadData ? event : null;
  }
}

/**
 * Parses a byte stream into events, decoding UTF-8 across chunk boundaries. `onChunk` hears
 * every chunk, comments included: an idle timeout wants to know the peer is still there.
 */
export async function* readSseEvents(body: ReadableStream<Uint8Array>, onChunk?: () => void): AsyncGenerator<TSseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk?.();
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    // Stops the underlying request when the consumer gives up early.
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** One event in the wire format; `data` is JSON so that newlines in text never split it. */
export function formatSseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
