import { describe, expect, it } from 'vitest';
import type { TEmbeddingModel } from '@/server/ml/embeddings';
import { createRng } from '@/server/ml/random';
import {
  buildPromptDedupText,
  DEFAULT_DEDUP_THRESHOLD,
  orderByQuality,
  selectDiverse,
  semanticDedup,
  type TDedupProgress,
} from '@/server/ml/semantic-dedup';

const flat = (rows: number[][]) => Float32Array.from(rows.flat());
const items = (ids: string[], qualities?: (number | null | undefined)[]) => ids.map((id, i) => ({ id, quality: qualities?.[i] }));

// Unit vectors at 0°, 36.87° and 73.74°: cos(a, b) = cos(b, c) = 0.8, cos(a, c) = 0.28.
const a = [1, 0];
const b = [0.8, 0.6];
const c = [0.28, 0.96];

/** The rule written out plainly, to check the blocked implementation against. */
function naiveGreedy(vectors: number[][], threshold: number) {
  const unit = vectors.map((v) => {
    const norm = Math.hypot(...v);
    return norm > 0 ? v.map((x) => x / norm) : v;
  });
  const kept: number[] = [];
  const dropped: { id: number; nearestId: number; similarity: number }[] = [];
  unit.forEach((v, i) => {
    let best = -Infinity;
    let nearest = -1;
    for (const k of kept) {
      const s = v.reduce((sum, x, d) => sum + x * unit[k]![d]!, 0);
      if (s > best) [best, nearest] = [s, k];
    }
    if (nearest >= 0 && best >= threshold) dropped.push({ id: i, nearestId: nearest, similarity: best });
    else kept.push(i);
  });
  return { kept, dropped };
}

describe('greedy selection (Llama 3 semantic dedup)', () => {
  it('keeps everything below the threshold and drops what is at least as similar as the threshold to a kept item', () => {
    const vectors = flat([a, b, c]);
    expect(selectDiverse(items(['a', 'b', 'c']), vectors, 2, { threshold: 0.9 })).toEqual({ kept: ['a', 'b', 'c'], dropped: [] });

    const result = selectDiverse(items(['a', 'b', 'c']), vectors, 2, { threshold: 0.7 });
    expect(result.kept).toEqual(['a', 'c']);
    expect(result.dropped).toHaveLength(1);
    expect(result.dropped[0]!.id).toBe('b');
    expect(result.dropped[0]!.nearestId).toBe('a');
    expect(result.dropped[0]!.similarity).toBeCloseTo(0.8, 5);
  });

  it('compares with kept items only: a dropped item never drops another', () => {
    // c is 0.8 from b, but b was dropped; c is only 0.28 from a, the one kept item.
    const result = selectDiverse(items(['a', 'b', 'c']), flat([a, b, c]), 2, { threshold: 0.5 });
    expect(result.kept).toEqual(['a', 'c']);
    expect(result.dropped.map((d) => d.id)).toEqual(['b']);
  });

  it('reports the nearest kept item and its similarity', () => {
    // d is closest to c (0.96 · 0.96 = 0.9216 + 0), then b, then a.
    const d = [0, 1];
    const result = selectDiverse(items(['a', 'c', 'd']), flat([a, c, d]), 2, { threshold: 0.9 });
    expect(result.kept).toEqual(['a', 'c']);
    expect(result.dropped).toEqual([{ id: 'd', nearestId: 'c', similarity: expect.closeTo(0.96, 5) }]);
  });

  it('drops at exactly the threshold and keeps just under it', () => {
    // (1,1,1,1) / 2 and (1,0,0,0) have a cosine of exactly 0.5 in float32.
    const vectors = flat([
      [1, 0, 0, 0],
      [1, 1, 1, 1],
    ]);
    expect(selectDiverse(items(['x', 'y']), vectors, 4, { threshold: 0.5 }).dropped).toEqual([{ id: 'y', nearestId: 'x', similarity: 0.5 }]);
    expect(selectDiverse(items(['x', 'y']), vectors, 4, { threshold: 0.5000001 }).kept).toEqual(['x', 'y']);
  });

  it('goes through items by quality, best first, so the better of two duplicates survives', () => {
    const vectors = flat([a, a, c]);
    const byInput = selectDiverse(items(['low', 'high', 'other']), vectors, 2, { threshold: 0.9 });
    expect(byInput.kept).toEqual(['low', 'other']);
    expect(byInput.dropped).toEqual([{ id: 'high', nearestId: 'low', similarity: expect.closeTo(1, 6) }]);

    const byQuality = selectDiverse(items(['low', 'high', 'other'], [0.2, 0.9, 0.5]), vectors, 2, { threshold: 0.9 });
    // Kept ids come back in input order; the dropped one names the better duplicate.
    expect(byQuality.kept).toEqual(['high', 'other']);
    expect(byQuality.dropped).toEqual([{ id: 'low', nearestId: 'high', similarity: expect.closeTo(1, 6) }]);
  });

  it('orders by quality descending, ties and unscored items in input order, unscored last', () => {
    expect(orderByQuality([undefined, 1, null, 3, 1, Number.NaN, -Infinity, -5])).toEqual([3, 1, 4, 7, 0, 2, 5, 6]);
    expect(orderByQuality([])).toEqual([]);
  });

  it('on a tie names the kept item that was kept first', () => {
    const p = [1, 0];
    const q = [0, 1];
    const r = [1, 1]; // cos 0.7071 to both p and q
    expect(selectDiverse(items(['p', 'q', 'r']), flat([p, q, r]), 2, { threshold: 0.7 }).dropped).toEqual([
      { id: 'r', nearestId: 'p', similarity: expect.closeTo(Math.SQRT1_2, 6) },
    ]);
    // With q first by quality, q is the first kept.
    expect(selectDiverse(items(['p', 'q', 'r'], [1, 2, 0]), flat([p, q, r]), 2, { threshold: 0.7 }).dropped[0]!.nearestId).toBe('q');
  });

  it('measures the cosine, whatever the vectors’ lengths', () => {
    const scaled = flat([a.map((x) => x * 3), b.map((x) => x * 0.01), c.map((x) => x * 100)]);
    const result = selectDiverse(items(['a', 'b', 'c']), scaled, 2, { threshold: 0.7 });
    expect(result.kept).toEqual(['a', 'c']);
    expect(result.dropped[0]!.similarity).toBeCloseTo(0.8, 5);
  });

  it('keeps zero vectors (a text with no tokens is similar to nothing)', () => {
    expect(selectDiverse(items(['z1', 'z2', 'a']), flat([[0, 0], [0, 0], a]), 2, { threshold: 0.5 })).toEqual({ kept: ['z1', 'z2', 'a'], dropped: [] });
  });

  it('handles empty input', () => {
    expect(selectDiverse([], new Float32Array(0), 8)).toEqual({ kept: [], dropped: [] });
  });

  it.each([12, 64])('matches the plain rule across blocks, with duplicates, near-duplicates and qualities (%i dimensions)', (dim) => {
    // At 64 dimensions the partial-sum bound skips most rows; the result must not change.
    const rng = createRng(dim);
    const base = Array.from({ length: 40 }, () => Array.from({ length: dim }, () => rng.float() * 2 - 1));
    // 203 items (not a multiple of the block): each a copy of a base vector, exact or with noise.
    const vectors = Array.from({ length: 203 }, () => {
      const v = base[rng.int(base.length)]!;
      const noise = [0, 0.1, 0.3, 0.6][rng.int(4)]!;
      return v.map((x) => x + (rng.float() * 2 - 1) * noise);
    });
    const qualities = vectors.map(() => (rng.float() < 0.2 ? undefined : rng.int(5)));
    const order = orderByQuality(qualities);
    for (const threshold of [0.3, 0.5, 0.8, 0.95, 0.999]) {
      const expected = naiveGreedy(
        order.map((i) => vectors[i]!),
        threshold,
      );
      const result = selectDiverse(
        vectors.map((_, i) => ({ id: i, quality: qualities[i] })),
        flat(vectors),
        dim,
        { threshold },
      );
      expect(result.kept).toEqual(expected.kept.map((k) => order[k]!).sort((x, y) => x - y));
      expect(result.dropped.map((d) => [d.id, d.nearestId])).toEqual(expected.dropped.map((d) => [order[d.id], order[d.nearestId]]));
      result.dropped.forEach((d, i) => expect(d.similarity).toBeCloseTo(expected.dropped[i]!.similarity, 5));
    }
  });

  it('reports progress and stops when aborted', () => {
    const n = 3000;
    const vectors = new Float32Array(n * 4).map((_, i) => ((i * 7919) % 13) - 6);
    const seen: TDedupProgress[] = [];
    selectDiverse(
      Array.from({ length: n }, (_, i) => ({ id: i })),
      vectors,
      4,
      { onProgress: (p) => seen.push(p) },
    );
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.phase === 'select' && p.total === n)).toBe(true);
    expect(seen.at(-1)!.done).toBe(n);

    const controller = new AbortController();
    controller.abort();
    expect(() => selectDiverse([{ id: 1 }], Float32Array.of(1), 1, { signal: controller.signal })).toThrow();
  });

  it('refuses a threshold outside (0, 1) and vectors of the wrong size', () => {
    for (const threshold of [0, 1, 1.5, -0.2, Number.NaN]) {
      expect(() => selectDiverse([], new Float32Array(0), 2, { threshold })).toThrow(/strictly between 0 and 1/);
    }
    expect(() => selectDiverse(items(['a', 'b']), flat([a]), 2)).toThrow(/expected 2 vectors of dimension 2/);
    expect(DEFAULT_DEDUP_THRESHOLD).toBeGreaterThan(0);
    expect(DEFAULT_DEDUP_THRESHOLD).toBeLessThan(1);
  });
});

describe('semanticDedup', () => {
  /** A stand-in model: vectors looked up by text, so the test controls every similarity. */
  function lookupModel(table: Record<string, number[]>): TEmbeddingModel & { batches: number[] } {
    const batches: number[] = [];
    return {
      name: 'lookup',
      dim: 2,
      batches,
      embedBatch: async (texts) => {
        batches.push(texts.length);
        return flat(texts.map((t) => table[t]!));
      },
      dispose: async () => {},
    };
  }

  it('embeds in batches with progress, then selects', async () => {
    const model = lookupModel({ 'cats are nice': a, 'cats are great': b, 'the stock market': [-0.6, 0.8] });
    const progress: TDedupProgress[] = [];
    const result = await semanticDedup(
      [
        { id: 1, text: 'cats are nice' },
        { id: 2, text: 'cats are great', quality: 0.9 },
        { id: 3, text: 'the stock market' },
      ],
      { threshold: 0.7, model, batchSize: 2, onProgress: (p) => progress.push(p) },
    );
    expect(result.kept).toEqual([2, 3]);
    expect(result.dropped).toEqual([{ id: 1, nearestId: 2, similarity: expect.closeTo(0.8, 5) }]);
    expect(model.batches).toEqual([2, 1]);
    expect(progress.filter((p) => p.phase === 'embed').map((p) => p.done)).toEqual([0, 2, 3]);
    expect(progress.at(-1)).toEqual({ phase: 'select', done: 3, total: 3 });
  });

  it('can be cancelled during the selection', async () => {
    const controller = new AbortController();
    const model = lookupModel({ x: a, y: b });
    const run = semanticDedup(
      [
        { id: 1, text: 'x' },
        { id: 2, text: 'y' },
      ],
      { model, signal: controller.signal, onProgress: (p) => p.phase === 'select' && controller.abort() },
    );
    await expect(run).rejects.toThrow(/abort/i);
  });

  it('returns nothing for no items without loading a model', async () => {
    expect(await semanticDedup([], { model: '/nonexistent/embedding-model' })).toEqual({ kept: [], dropped: [] });
  });
});

describe('the dedup text of a prompt', () => {
  it('is the user turns, in order', () => {
    expect(
      buildPromptDedupText([
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: '  Write a poem about the sea. ' },
        { role: 'assistant', content: 'Waves.' },
        { role: 'user', content: 'Longer, please.' },
        { role: 'user', content: '   ' },
      ]),
    ).toBe('Write a poem about the sea.\n\nLonger, please.');
    expect(buildPromptDedupText([{ role: 'system', content: 'x' }])).toBe('');
  });
});
