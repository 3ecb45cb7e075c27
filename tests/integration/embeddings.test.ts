import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env as transformersEnv } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedTexts, loadEmbeddingModel, type TEmbeddingModel } from '@/server/ml/embeddings';
import { semanticDedup } from '@/server/ml/semantic-dedup';
import { makeTinyEmbeddingModel, TINY_EMBEDDING_HIDDEN_SIZE } from '../fixtures/make-tiny-embedding-model';

let root: string;
let modelDir: string;
let cacheDir: string;
let model: TEmbeddingModel;
let generateMs: number;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-tiny-embedding-'));
  cacheDir = path.join(root, 'cache');
  const started = performance.now();
  modelDir = makeTinyEmbeddingModel(path.join(root, 'tiny')).folder;
  generateMs = performance.now() - started;
  model = await loadEmbeddingModel({ model: modelDir, cacheDir });
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const dot = (u: Float32Array, v: Float32Array) => u.reduce((sum, x, i) => sum + x * v[i]!, 0);

async function similarity(x: string, y: string): Promise<number> {
  const vectors = await model.embedBatch([x, y]);
  return dot(vectors.subarray(0, model.dim), vectors.subarray(model.dim));
}

describe('the tiny embedding model', () => {
  it('is generated in well under a second, in the layout transformers.js loads', () => {
    expect(generateMs).toBeLessThan(500);
    for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) {
      expect(fs.existsSync(path.join(modelDir, file))).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'bert', hidden_size: TINY_EMBEDDING_HIDDEN_SIZE });
  });

  it('loads through the feature-extraction pipeline and runs on onnxruntime-node’s native CPU library', () => {
    expect(model.name).toBe(modelDir);
    expect(model.dim).toBe(TINY_EMBEDDING_HIDDEN_SIZE);
    expect(transformersEnv.allowRemoteModels).toBe(false);
    // The shared library shipped in the package is mapped into this process: no WebAssembly fallback.
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    expect(maps).toMatch(/onnxruntime-node\/bin\/napi-v\d+\/linux\/x64\/libonnxruntime\.so/);
  });

  it('gives unit vectors whose cosine follows shared words', async () => {
    const [v] = [await model.embedBatch(['write a poem about the sea'])];
    expect(Math.sqrt(dot(v!, v!))).toBeCloseTo(1, 5);

    expect(await similarity('the cat sat on the mat', 'the cat sat on the mat')).toBeCloseTo(1, 5);
    // Lowercased by the tokenizer: the same tokens.
    expect(await similarity('The Cat sat on the mat', 'the cat sat on the mat')).toBeCloseTo(1, 5);
    expect(await similarity('explain the python code in this file', 'explain the python code in that file')).toBeGreaterThan(0.75);
    expect(await similarity('the cat sat on the mat', 'explain python code please')).toBeLessThan(0.4);
    expect(Math.abs(await similarity('hello world', 'write a long summary of every french story'))).toBeLessThan(0.4);
  });

  it('embeds in batches: padding does not change a vector, and rows keep the order of the texts', async () => {
    const texts = ['hello', 'write a short poem about the blue sky and the sun', 'thanks', 'list five numbers', 'tell me a story about a dog and a cat', 'yes'];
    const progress: number[] = [];
    const batched = await embedTexts(model, texts, { batchSize: 4, onProgress: (p) => progress.push(p.done) });
    expect(progress).toEqual([0, 4, 6]);
    for (const [i, text] of texts.entries()) {
      const alone = await model.embedBatch([text]);
      for (let k = 0; k < model.dim; k++) expect(batched[i * model.dim + k]).toBeCloseTo(alone[k]!, 5);
    }
  });

  it('gives a text without tokens the zero vector', async () => {
    const vectors = await model.embedBatch(['', 'hello world']);
    expect(vectors.subarray(0, model.dim).every((x) => x === 0)).toBe(true);
    expect(vectors.subarray(model.dim).some((x) => x !== 0)).toBe(true);
  });
});

describe('semantic dedup end to end', () => {
  const prompts = [
    { id: 'p1', text: 'Write a poem about the sea.' },
    { id: 'p2', text: 'Explain what this python function does.' },
    { id: 'p3', text: 'write a poem about the sea' },
    { id: 'p4', text: 'Tell me a story about a dog.' },
    { id: 'p5', text: 'Explain what this python function does, please.' },
    { id: 'p6', text: 'Tell me a story about a cat.', quality: 0.9 },
    { id: 'p7', text: 'Translate this text into french.' },
    { id: 'p8', text: 'WRITE A POEM ABOUT THE SEA.' },
  ];

  it('keeps one of each group of near-duplicates and says which kept prompt each dropped one resembles', async () => {
    const phases = new Set<string>();
    const result = await semanticDedup(prompts, { threshold: 0.8, model: modelDir, onProgress: (p) => phases.add(p.phase) });
    // p6 goes first (the only scored item), so the dog story is the duplicate, not the cat story.
    expect(result.kept).toEqual(['p1', 'p2', 'p6', 'p7']);
    expect(result.dropped.map((d) => [d.id, d.nearestId])).toEqual([
      ['p3', 'p1'],
      ['p4', 'p6'],
      ['p5', 'p2'],
      ['p8', 'p1'],
    ]);
    for (const d of result.dropped) {
      expect(d.similarity).toBeGreaterThanOrEqual(0.8);
      expect(d.similarity).toBeLessThanOrEqual(1 + 1e-6);
    }
    expect([...phases]).toEqual(['embed', 'select']);
  });

  it('drops only texts with the same tokens at a threshold close to 1', async () => {
    const result = await semanticDedup(prompts, { threshold: 0.99, model });
    expect(result.kept).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    expect(result.dropped).toEqual([{ id: 'p8', nearestId: 'p1', similarity: expect.closeTo(1, 5) }]);
  });
});

describe('a configured model that cannot be loaded', () => {
  it('is an error naming the variable and the folder, never a fallback', async () => {
    const missing = path.join(root, 'no-such-model');
    await expect(loadEmbeddingModel({ model: missing, cacheDir })).rejects.toThrow(`PAIRWISE_EMBEDDING_MODEL=${missing}: the folder ${missing} does not exist`);
    await expect(semanticDedup([{ id: 1, text: 'hello' }], { model: missing })).rejects.toThrow(/does not exist/);
  });

  it('names a missing file of the folder', async () => {
    const partial = path.join(root, 'partial');
    makeTinyEmbeddingModel(partial);
    fs.rmSync(path.join(partial, 'onnx', 'model.onnx'));
    await expect(loadEmbeddingModel({ model: partial, cacheDir })).rejects.toThrow(/onnx\/model\.onnx is missing/);
  });

  it('says how to configure one when none is set', async () => {
    await expect(loadEmbeddingModel({ model: undefined })).rejects.toThrow(/set PAIRWISE_EMBEDDING_MODEL/);
  });

  it('does not download a hub model while remote models are off', async () => {
    await expect(loadEmbeddingModel({ model: 'Xenova/all-MiniLM-L6-v2', cacheDir, allowRemoteModels: false })).rejects.toThrow(
      /remote models are off \(set PAIRWISE_ALLOW_REMOTE_MODELS=1/,
    );
  });
});
