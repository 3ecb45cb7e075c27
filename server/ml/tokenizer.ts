import fs from 'node:fs';
import path from 'node:path';
import type { TMessage } from '@/db/schema';
import { env } from '../env';
import { AppError } from '../errors';
import { loadOnce, transformersFor } from './transformers-setup';

/**
 * Token counting for the data statistics (Llama 3's preference data table).
 *
 * - `PAIRWISE_TOKENIZER` names a local folder holding `tokenizer.json` and
 *   `tokenizer_config.json` (what `save_pretrained` writes), loaded with transformers.js's
 *   `AutoTokenizer` and remote loading off; or a Hugging Face hub model id, downloaded only
 *   when `PAIRWISE_ALLOW_REMOTE_MODELS=1` (cached under `<data dir>/models`).
 * - Unset: an approximate counter, ceil(characters / 4), the usual rule of thumb for English
 *   text under BPE tokenizers. Its figures say `kind: 'approximate'` so the UI can say so.
 *
 * A configured tokenizer that cannot be loaded is an error, never a silent fallback: mixing
 * real and approximate counts in one table would make both meaningless.
 */

export type TTokenizerKind = 'tokenizer' | 'approximate';

export interface TTokenCounter {
  kind: TTokenizerKind;
  /** The folder or hub id the tokenizer came from, or the rule of thumb. */
  name: string;
  /** Tokens of a plain text, without special tokens (BOS/EOS). */
  countText(text: string): number;
}

export interface TTokenizerConfig {
  /** A folder path, or a hub model id. Unset: the approximate counter. */
  tokenizer?: string;
  allowRemoteModels?: boolean;
  /** Where downloaded hub files are cached (default `<data dir>/models`). */
  cacheDir?: string;
}

export const APPROXIMATE_CHARS_PER_TOKEN = 4;
export const APPROXIMATE_COUNTER_NAME = `approximate: ceil(characters / ${APPROXIMATE_CHARS_PER_TOKEN})`;

/**
 * Formatting tokens around every message in Llama 3's chat template,
 * `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>`: the two header tokens,
 * the "\n\n" after the header (a single token in Llama 3's vocabulary) and `<|eot_id|>`.
 * The role name itself is counted with the tokenizer (one token for user, assistant, system).
 */
export const MESSAGE_OVERHEAD_TOKENS = 4;

/** Unicode code points, so that an emoji counts as one character, not two UTF-16 units. */
function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

export function approximateCounter(): TTokenCounter {
  return {
    kind: 'approximate',
    name: APPROXIMATE_COUNTER_NAME,
    countText: (text) => Math.ceil(codePoints(text) / APPROXIMATE_CHARS_PER_TOKEN),
  };
}

/**
 * Tokens of a message list as a chat model sees them: each message's content, its role and
 * the template's per-message overhead; a tool call counts its function name and arguments
 * (Llama 3 writes calls as JSON text in the assistant message).
 */
export function countMessageTokens(counter: TTokenCounter, messages: readonly TMessage[]): number {
  let total = 0;
  for (const message of messages) {
    total += MESSAGE_OVERHEAD_TOKENS + counter.countText(message.role) + counter.countText(message.content ?? '');
    for (const call of message.tool_calls ?? []) total += counter.countText(call.function.name) + counter.countText(call.function.arguments);
  }
  return total;
}

export function tokenizerConfigFromEnv(): TTokenizerConfig {
  const e = env();
  return { tokenizer: e.PAIRWISE_TOKENIZER, allowRemoteModels: e.PAIRWISE_ALLOW_REMOTE_MODELS };
}

/** What the configuration will count with, without loading anything (for the statistics page). */
export function describeTokenizer(config: TTokenizerConfig = tokenizerConfigFromEnv()): { kind: TTokenizerKind; name: string } {
  return config.tokenizer ? { kind: 'tokenizer', name: config.tokenizer } : { kind: 'approximate', name: APPROXIMATE_COUNTER_NAME };
}

const loaded = new Map<string, Promise<TTokenCounter>>();

/**
 * The process's token counter for a configuration (the environment's by default), loaded
 * once. Throws an AppError when a configured tokenizer cannot be loaded.
 */
export function loadTokenizer(config: TTokenizerConfig = tokenizerConfigFromEnv()): Promise<TTokenCounter> {
  if (!config.tokenizer) return Promise.resolve(approximateCounter());
  const value = config.tokenizer;
  return loadOnce(loaded, JSON.stringify([value, Boolean(config.allowRemoteModels), config.cacheDir ?? null]), () => loadTransformersTokenizer(value, config));
}

async function loadTransformersTokenizer(value: string, config: TTokenizerConfig): Promise<TTokenCounter> {
  const {
    transformers: { AutoTokenizer },
    folder,
  } = await transformersFor(value, config);

  let tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
  if (folder) {
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
      if (!fs.existsSync(path.join(folder, file))) {
        throw new AppError('BAD_REQUEST', `PAIRWISE_TOKENIZER=${value}: ${path.join(folder, file)} is missing (a tokenizer folder holds tokenizer.json and tokenizer_config.json)`);
      }
    }
    // An absolute path is not a hub id, so transformers.js reads the files from it directly.
    tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  } else {
    try {
      // With remote loading off this still finds a copy downloaded earlier into the cache.
      tokenizer = await AutoTokenizer.from_pretrained(value, { local_files_only: !config.allowRemoteModels });
    } catch (error) {
      const hint = config.allowRemoteModels ? '' : '; it is not a folder, and remote models are off (set PAIRWISE_ALLOW_REMOTE_MODELS=1 to download it)';
      throw new AppError('BAD_REQUEST', `PAIRWISE_TOKENIZER=${value}: cannot load the tokenizer (${(error as Error).message})${hint}`);
    }
  }
  return {
    kind: 'tokenizer',
    name: value,
    countText: (text) => (text ? tokenizer.encode(text, { add_special_tokens: false }).length : 0),
  };
}
