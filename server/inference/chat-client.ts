import type { TMessage, TSampling } from '@/db/schema';
import { chatCompletionsUrl, ModelEndpointError } from './openai-stream';
import { samplingFields, storableText, wireMessages } from './endpoint-protocol';
import { postJson, type TRequestHooks, type TRequestPolicy } from './http';

/** What it takes to sample from a policy: an OpenAI-compatible /chat/completions endpoint. */
export interface TChatModel {
  name: string;
  baseUrl: string;
  apiModel: string;
  /** Name of the environment variable holding the API key. */
  apiKeyEnv?: string | null;
  sampling?: TSampling;
}

/** One sampled answer: the assistant message (content, tool calls) and why it stopped. */
export interface TChatSample {
  message: TMessage;
  finishReason: string | null;
}

export interface TChatSamplesOptions extends TRequestHooks {
  /** Samples wanted (default 1). */
  n?: number;
  /** Overrides the model entry's sampling parameters, field by field. */
  sampling?: TSampling;
  policy?: Partial<TRequestPolicy>;
}

/** The model entry's sampling parameters with the run's overrides on top (undefined fields do not override). */
export function effectiveSampling(base: TSampling | undefined, override: TSampling | undefined): TSampling {
  return samplingFields(base, override);
}

interface TWireChoice {
  index?: number;
  message?: { content?: unknown; tool_calls?: unknown };
  finish_reason?: unknown;
}

function parseChoices(json: unknown, what: string): TChatSample[] {
  const choices = (json as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices)) throw new ModelEndpointError(`${what}: the answer has no choices list`, { retryable: false });
  return (choices as TWireChoice[])
    .map((choice, position) => ({ choice, order: typeof choice?.index === 'number' ? choice.index : position }))
    .sort((a, b) => a.order - b.order)
    .map(({ choice }) => {
      const content = choice?.message?.content;
      if (content !== null && content !== undefined && typeof content !== 'string') {
        throw new ModelEndpointError(`${what}: a choice's content is not text`, { retryable: false });
      }
      const message: TMessage = { role: 'assistant', content: storableText(content ?? '') };
      if (Array.isArray(choice.message?.tool_calls) && choice.message.tool_calls.length > 0) message.tool_calls = choice.message.tool_calls as TMessage['tool_calls'];
      return { message, finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null };
    });
}

/**
 * `n` samples for one conversation from a policy: POST {baseUrl}/chat/completions, non-streaming,
 * with `n` (omitted when 1) and the effective sampling parameters. An endpoint that returns
 * fewer choices than asked (APIs without `n`, or with a lower cap) is asked again, in parallel,
 * for the rest in requests of the size it did answer, until there are `n`.
 */
export async function chatSamples(model: TChatModel, messages: TMessage[], options: TChatSamplesOptions = {}): Promise<TChatSample[]> {
  const n = options.n ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, not ${n}`);
  const url = chatCompletionsUrl(model.baseUrl);
  const what = `policy ${model.name}`;
  const body = { model: model.apiModel, messages: wireMessages(messages), stream: false, ...effectiveSampling(model.sampling, options.sampling) };
  const ask = async (count: number): Promise<TChatSample[]> => {
    const json = await postJson(url, count > 1 ? { ...body, n: count } : body, { ...options, apiKeyEnv: model.apiKeyEnv, what });
    const samples = parseChoices(json, what);
    if (samples.length === 0) throw new ModelEndpointError(`${what}: the answer has no choices`, { retryable: false });
    return samples.slice(0, count);
  };

  const out = await ask(n);
  // The endpoint's apparent cap: ask for the rest in requests of that size.
  const perRequest = out.length;
  while (out.length < n) {
    const missing = n - out.length;
    const sizes = Array.from({ length: Math.ceil(missing / perRequest) }, (_, i) => Math.min(perRequest, missing - i * perRequest));
    for (const batch of await Promise.all(sizes.map(ask))) out.push(...batch);
  }
  return out.slice(0, n);
}
