import fs from 'node:fs';
import path from 'node:path';
import { env } from '../env';
import { AppError } from '../errors';
import { loadOnce, transformersFor } from './transformers-setup';

/**
 * Sentence embeddings for semantic dedup, computed on the CPU with transformers.js's
 * `feature-extraction` pipeline (onnxruntime-node), mean-pooled over the tokens and normalised
 * to unit length, so the cosine similarity of two texts is the dot product of their vectors.
 *
 * - `PAIRWISE_EMBEDDING_MODEL` names a local folder in the Hugging Face layout (`config.json`,
 *   `tokenizer.json`, `tokenizer_config.json`, `onnx/model.onnx`), loaded with remote loading
 *   off; or a hub model id with ONNX weights (e.g. `Xenova/all-MiniLM-L6-v2`), downloaded only
 *   when `PAIRWISE_ALLOW_REMOTE_MODELS=1` (cached under `<data dir>/models`).
 * - Unset: there is no embedding model, and asking for one is an error. There is no
 *   approximate fallback: similarities from another model would silently change what the
 *   dedup threshold means.
 */

export interface TEmbeddingConfig {
  /** A folder path, or a hub model id. */
  model?: string;
  allowRemoteModels?: boolean;
  /** Where downloaded hub files are cached (default `<data dir>/models`). */
  cacheDir?: string;
}

export interface TEmbeddingModel {
  /** The folder or hub id the model came from. */
  name: string;
  /** Length of every vector. */
  dim: number;
  /** Unit vectors of `texts`, row-major in one array (texts.length × dim), in one model call. */
  embedBatch(texts: readonly string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export interface TEmbedProgress {
  done: number;
  total: number;
}

export interface TEmbedOptions {
  /** Texts per model call (default 32). */
  batchSize?: number;
  onProgress?: (progress: TEmbedProgress) => void;
  signal?: AbortSignal;
}

export const DEFAULT_EMBEDDING_BATCH_SIZE = 32;

export function embeddingConfigFromEnv(): TEmbeddingConfig {
  const e = env();
  return { model: e.PAIRWISE_EMBEDDING_MODEL, allowRemoteModels: e.PAIRWISE_ALLOW_REMOTE_MODELS };
}

/** What the configuration names, without loading anything; null when no model is configured. */
export function describeEmbeddingModel(config: TEmbeddingConfig = embeddingConfigFromEnv()): string | null {
  return config.model ?? null;
}

const FOLDER_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', path.join('onnx', 'model.onnx')];

const loaded = new Map<string, Promise<TEmbeddingModel>>();

/**
 * The process's embedding model for a configuration (the environment's by default), loaded
 * once. Throws an AppError when no model is configured or the configured one cannot be loaded.
 */
export function loadEmbeddingModel(config: TEmbeddingConfig = embeddingConfigFromEnv()): Promise<TEmbeddingModel> {
  const value = config.model?.trim();
  if (!value) {
    return Promise.reject(
      new AppError(
        'BAD_REQUEST',
        'semantic dedup needs an embedding model: set PAIRWISE_EMBEDDING_MODEL to a local folder (config.json, tokenizer files, onnx/model.onnx) or to a hub model id such as Xenova/all-MiniLM-L6-v2 with PAIRWISE_ALLOW_REMOTE_MODELS=1',
      ),
    );
  }
  return loadOnce(loaded, JSON.stringify([value, Boolean(config.allowRemoteModels), config.cacheDir ?? null]), () => loadFeatureExtractor(value, config));
}

async function loadFeatureExtractor(value: string, config: TEmbeddingConfig): Promise<TEmbeddingModel> {
  const {
    transformers: { pipeline },
    folder,
  } = await transformersFor(value, config);

  const what = `PAIRWISE_EMBEDDING_MODEL=${value}`;
  let extractor: Awaited<ReturnType<typeof pipeline<'feature-extraction'>>>;
  if (folder) {
    if (!fs.existsSync(folder)) throw new AppError('BAD_REQUEST', `${what}: the folder ${folder} does not exist`);
    for (const file of FOLDER_FILES) {
      if (!fs.existsSync(path.join(folder, file))) {
        throw new AppError('BAD_REQUEST', `${what}: ${path.join(folder, file)} is missing (an embedding model folder holds ${FOLDER_FILES.join(', ')})`);
      }
    }
    try {
      // An absolute path is not a hub id, so transformers.js reads the files from it directly.
      extractor = await pipeline('feature-extraction', folder, { local_files_only: true });
    } catch (error) {
      throw new AppError('BAD_REQUEST', `${what}: cannot load the model (${(error as Error).message})`);
    }
  } else {
    try {
      // With remote loading off this still finds a copy downloaded earlier into the cache.
      extractor = await pipeline('feature-extraction', value, { local_files_only: !config.allowRemoteModels });
    } catch (error) {
      const hint = config.allowRemoteModels ? '' : '; it is not a folder, and remote models are off (set PAIRWISE_ALLOW_REMOTE_MODELS=1 to download it)';
      throw new AppError('BAD_REQUEST', `${what}: cannot load the model (${(error as Error).message})${hint}`);
    }
  }

  const run = async (texts: readonly string[]): Promise<{ data: Float32Array; dims: number[] }> => {
    const output = await extractor([...texts], { pooling: 'mean', normalize: true });
    return { data: output.data as Float32Array, dims: output.dims };
  };

  // One probe call: a model whose output is not one vector per text is not a sentence encoder.
  let probe: { data: Float32Array; dims: number[] };
  try {
    probe = await run(['hello world']);
  } catch (error) {
    await extractor.dispose();
    throw new AppError('BAD_REQUEST', `${what}: the model loaded but cannot embed a text (${(error as Error).message})`);
  }
  const dim = probe.dims[1];
  if (probe.dims.length !== 2 || probe.dims[0] !== 1 || !dim || !(probe.data instanceof Float32Array)) {
    await extractor.dispose();
    throw new AppError('BAD_REQUEST', `${what}: expected one float32 vector per text, got a tensor of shape [${probe.dims.join(', ')}]`);
  }

  return {
    name: value,
    dim,
    async embedBatch(texts) {
      if (texts.length === 0) return new Float32Array(0);
      const { data, dims } = await run(texts);
      if (dims[0] !== texts.length || dims[1] !== dim) throw new Error(`${what}: expected [${texts.length}, ${dim}] embeddings, got [${dims.join(', ')}]`);
      // A text with no tokens at all (an empty text under a tokenizer that adds no special
      // tokens) pools to 0/0; it gets the zero vector, similar to nothing.
      for (let row = 0; row < texts.length; row++) {
        const start = row * dim;
        let finite = true;
        for (let k = start; k < start + dim; k++) {
          if (!Number.isFinite(data[k])) {
            finite = false;
            break;
          }
        }
        if (!finite) data.fill(0, start, start + dim);
      }
      return data;
    },
    dispose: () => extractor.dispose(),
  };
}

/**
 * Unit vectors of all `texts`, row-major in one Float32Array (texts.length × model.dim), in
 * batches of `batchSize`. Texts are batched in order of length so that a batch pads little;
 * rows come back in the order of `texts`. Reports progress after each batch; an aborted
 * signal stops between batches.
 */
export async function embedTexts(model: TEmbeddingModel, texts: readonly string[], options: TEmbedOptions = {}): Promise<Float32Array> {
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_EMBEDDING_BATCH_SIZE));
  const { dim } = model;
  const out = new Float32Array(texts.length * dim);
  const order = Array.from(texts.keys()).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
  options.onProgress?.({ done: 0, total: texts.length });
  for (let start = 0; start < order.length; start += batchSize) {
    options.signal?.throwIfAborted();
    const indices = order.slice(start, start + batchSize);
    const vectors = await model.embedBatch(indices.map((i) => texts[i]!));
    indices.forEach((i, row) => out.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim));
    options.onProgress?.({ done: start + indices.length, total: texts.length });
  }
  return out;
}
