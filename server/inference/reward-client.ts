import type { TMessage } from '@/db/schema';
import { ModelEndpointError } from './openai-stream';
import { wireMessages } from './endpoint-protocol';
import { mapWithConcurrency, postJson, type TRequestHooks, type TRequestPolicy } from './http';
import { loadOnnxRewardModel, rewardModelFolder } from './onnx-reward';

/** A reward model as the registry describes it. */
export interface TRewardModel {
  name: string;
  serving: 'openai' | 'vllm-classify' | 'onnx-local' | 'none';
  baseUrl: string;
  apiModel: string;
  apiKeyEnv?: string | null;
  artifactUri?: string | null;
}

/** One response to score, with the conversation it answers. */
export interface TScoreItem {
  prompt: TMessage[];
  response: TMessage[];
}

export interface TScoreOptions extends TRequestHooks {
  /** Scoring requests at once for this call (default 8); a shared limiter bounds them further. */
  concurrency?: number;
  policy?: Partial<TRequestPolicy>;
}

/**
 * vLLM serves the pooling endpoints at the server root, beside /v1: `{root}/classify`, where
 * root is the model's base URL without a trailing /v1.
 */
export function classifyUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '')}/classify`;
}

interface TClassificationData {
  index?: number;
  probs?: unknown;
}

/** The raw score of one conversation: data[0].probs, which holds logits when use_activation is false. */
function parseScore(json: unknown, what: string): number {
  const data = (json as { data?: unknown } | null)?.data;
  const first = Array.isArray(data) ? (data[0] as TClassificationData | undefined) : undefined;
  const values = first?.probs;
  if (!Array.isArray(values)) throw new ModelEndpointError(`${what}: the /classify answer has no data[0].probs`, { retryable: false });
  if (values.length !== 1) {
    throw new ModelEndpointError(`${what}: a reward model has one output, this one gives ${values.length} classes`, { retryable: false });
  }
  const score = values[0];
  if (typeof score !== 'number' || !Number.isFinite(score)) throw new ModelEndpointError(`${what}: the score is not a finite number`, { retryable: false });
  return score;
}

/**
 * Raw reward scores of (prompt, response) pairs, in the order of `items`.
 *
 * - `vllm-classify`: one `POST {root}/classify` per pair, in vLLM's chat form
 *   `{model, messages: [...prompt, ...response], use_activation: false}`: vLLM renders the
 *   conversation with the reward model's own chat template, and with the activation off
 *   `data[0].probs` holds the raw logit (a sigmoid would squash the differences between good
 *   answers). Retries and timeouts as for policies.
 * - `onnx-local`: the folder in `artifactUri`, through transformers.js on the CPU, in batches.
 */
export async function scoreResponses(model: TRewardModel, items: TScoreItem[], options: TScoreOptions = {}): Promise<number[]> {
  const what = `reward model ${model.name}`;
  if (items.length === 0) return [];
  if (model.serving === 'onnx-local') {
    options.signal?.throwIfAborted();
    const local = await loadOnnxRewardModel(rewardModelFolder(model.artifactUri, what), what);
    return local.score(items.map((item) => [...item.prompt, ...item.response]));
  }
  if (model.serving !== 'vllm-classify') {
    throw new ModelEndpointError(`${what}: serving is ${model.serving}; scoring needs vllm-classify or onnx-local`, { retryable: false });
  }
  const url = classifyUrl(model.baseUrl);
  return mapWithConcurrency(items, options.concurrency ?? 8, async (item) => {
    const json = await postJson(
      url,
      { model: model.apiModel, messages: wireMessages([...item.prompt, ...item.response]), use_activation: false },
      { ...options, apiKeyEnv: model.apiKeyEnv, what },
    );
    return parseScore(json, what);
  });
}
