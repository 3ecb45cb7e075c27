import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TMessage } from '@/db/schema';
import { ModelEndpointError } from './openai-stream';
import { loadOnce, transformersFor } from '../ml/transformers-setup';

/**
 * A reward model on the worker's CPU: a sequence-classification model with one output (its raw
 * logit is the reward), in the Hugging Face layout transformers.js loads (`config.json`,
 * `tokenizer.json`, `tokenizer_config.json`, `onnx/model.onnx`), read from a local folder with
 * remote loading off. For small setups and tests; real reward models are served by vLLM.
 */

export interface TOnnxRewardModel {
  folder: string;
  /** How conversations become text: the tokenizer's chat template, or a "role: content" join. */
  rendering: 'chat-template' | 'role-lines';
  /** Raw scores of conversations, one model call per batch. */
  score(conversations: TMessage[][]): Promise<number[]>;
  dispose(): Promise<void>;
}

const BATCH = 16;

/** `file:///abs/folder`, an absolute path or a path relative to the working directory. */
export function rewardModelFolder(artifactUri: string | null | undefined, what: string): string {
  const value = artifactUri?.trim();
  if (!value) throw new ModelEndpointError(`${what}: an onnx-local reward model needs artifactUri (a local folder)`, { retryable: false });
  if (value.startsWith('file://')) return fileURLToPath(value);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new ModelEndpointError(`${what}: onnx-local reward models load from a local folder (file:// or a path), not ${value.split('://')[0]}://`, { retryable: false });
  }
  return path.resolve(/* turbopackIgnore: true */ process.cwd(), value);
}

/** "role: content" lines, for tokenizers without a chat template. */
export function roleLines(messages: TMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}`).join('\n');
}

const loaded = new Map<string, Promise<TOnnxRewardModel>>();

/** The model in `folder`, loaded once per process. */
export function loadOnnxRewardModel(folder: string, what: string): Promise<TOnnxRewardModel> {
  return loadOnce(loaded, folder, () => load(folder, what));
}

async function load(folder: string, what: string): Promise<TOnnxRewardModel> {
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', path.join('onnx', 'model.onnx')]) {
    if (!fs.existsSync(path.join(folder, file))) throw new ModelEndpointError(`${what}: ${path.join(folder, file)} is missing`, { retryable: false });
  }
  const {
    transformers: { AutoModelForSequenceClassification, AutoTokenizer },
  } = await transformersFor(folder, { allowRemoteModels: false });
  let tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
  let model: Awaited<ReturnType<typeof AutoModelForSequenceClassification.from_pretrained>>;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
    model = await AutoModelForSequenceClassification.from_pretrained(folder, { local_files_only: true });
  } catch (error) {
    throw new ModelEndpointError(`${what}: cannot load the model from ${folder} (${(error as Error).message})`, { retryable: false, cause: error });
  }
  const rendering: TOnnxRewardModel['rendering'] = tokenizer.chat_template ? 'chat-template' : 'role-lines';
  const render = (messages: TMessage[]): string =>
    rendering === 'chat-template'
      ? (tokenizer.apply_chat_template(
          messages.map((m) => ({ role: m.role, content: m.content })),
          { tokenize: false, add_generation_prompt: false },
        ) as string)
      : roleLines(messages);

  return {
    folder,
    rendering,
    async score(conversations) {
      const out: number[] = [];
      for (let start = 0; start < conversations.length; start += BATCH) {
        const texts = conversations.slice(start, start + BATCH).map(render);
        const inputs = tokenizer(texts, { padding: true, truncation: true });
        const { logits } = (await model(inputs)) as { logits: { dims: number[]; data: ArrayLike<number> } };
        const [rows, labels] = logits.dims;
        if (rows !== texts.length || labels !== 1) {
          throw new ModelEndpointError(`${what}: expected one score per conversation (logits [${texts.length}, 1]), got [${logits.dims.join(', ')}]`, { retryable: false });
        }
        for (let i = 0; i < texts.length; i++) out.push(Number(logits.data[i]));
      }
      return out;
    },
    async dispose() {
      await model.dispose();
    },
  };
}
