import type { TMessage } from '@/db/schema';
import { AppError } from '../errors';
import { embeddingConfigFromEnv, embedTexts, loadEmbeddingModel, type TEmbeddingModel } from './embeddings';

/**
 * Semantic dedup as in Llama 3 (section 4.2.3, "Data processing and quality control"): order
 * the examples by quality, then go through them greedily and keep an example only if its
 * maximum cosine similarity to the examples already kept is below a threshold. The paper sorts
 * by quality × difficulty: pass that product as `quality`. The paper clusters dialogs first and
 * runs the greedy pass per cluster; here one pass covers all items, so near-duplicates that a
 * clustering would put in different clusters are found too.
 *
 * The nearest-kept search is exact: each candidate is compared with every kept vector, which
 * costs O(kept × dim) per candidate and O(n² × dim) in the worst case (nothing dropped). The
 * kept vectors live in one flat Float32Array; candidates are scored in blocks so that every
 * kept row is read from memory once per block instead of once per candidate, and a
 * Cauchy-Schwarz bound cuts most unrelated rows short (scanKept). The result is exact.
 */

/** Similarity at or above which an item counts as a duplicate of a kept one; see docs/decisions.md. */
export const DEFAULT_DEDUP_THRESHOLD = 0.95;

export interface TDedupItem<Id> {
  id: Id;
  text: string;
  /** Higher is better; items without a score come after all scored ones. */
  quality?: number | null;
}

export interface TDroppedItem<Id> {
  id: Id;
  /** The kept item most similar to this one when it was considered (the first kept one on a tie). */
  nearestId: Id;
  similarity: number;
}

export interface TDedupResult<Id> {
  /** Kept ids, in input order. */
  kept: Id[];
  /** Dropped items, in the order they were considered. */
  dropped: TDroppedItem<Id>[];
}

export interface TDedupProgress {
  phase: 'embed' | 'select';
  done: number;
  total: number;
}

export interface TSelectOptions {
  /** Cosine similarity at or above which an item is dropped (default DEFAULT_DEDUP_THRESHOLD). */
  threshold?: number;
  onProgress?: (progress: TDedupProgress) => void;
  signal?: AbortSignal;
}

export interface TSemanticDedupOptions extends TSelectOptions {
  /** A loaded model, or a folder / hub id; default: PAIRWISE_EMBEDDING_MODEL. */
  model?: TEmbeddingModel | string;
  /** Texts per model call. */
  batchSize?: number;
}

/** The dedup text of a prompt: its user turns, which say what is asked; answers and system prompts do not. */
export function buildPromptDedupText(messages: readonly TMessage[]): string {
  return messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content.trim())
    .filter(Boolean)
    .join('\n\n');
}

function checkThreshold(threshold: number): void {
  if (!Number.isFinite(threshold) || threshold <= 0 || threshold >= 1) {
    throw new AppError('BAD_REQUEST', `the dedup threshold is a cosine similarity strictly between 0 and 1, got ${threshold}`);
  }
}

/** Indices by quality, best first; unscored (missing or NaN) last; ties keep input order. */
export function orderByQuality(qualities: readonly (number | null | undefined)[]): number[] {
  const score = (q: number | null | undefined) => (typeof q === 'number' && !Number.isNaN(q) ? q : -Infinity);
  const keys = qualities.map(score);
  // Array.prototype.sort is stable, so equal scores stay in input order.
  return Array.from(qualities.keys()).sort((a, b) => (keys[b]! > keys[a]! ? 1 : keys[b]! < keys[a]! ? -1 : 0));
}

/** Candidates scored together against the kept set (a multiple of 4); 16 rows of 384 floats stay in L1. */
const BLOCK = 16;
const PROGRESS_EVERY = 1024;
/** semanticDedup lets the event loop run at least this often (ms) during the selection. */
const SLICE_MS = 50;

/** Below this many dimensions the partial-sum bound of scanKept is not worth its checks. */
const MIN_PRUNE_DIM = 16;
/** Room for float rounding in the bound, so that pruning never changes a result. */
const BOUND_SLACK = 1e-6;

/** Where scanKept checks its bound: after the first quarter of the dimensions. */
function pruneAt(dim: number): number {
  return dim >= MIN_PRUNE_DIM ? dim >> 2 : dim;
}

/** Norm of a row's values from `from` on (rows are unit vectors, so 0..1). */
function tailNorm(values: Float32Array, start: number, from: number, dim: number): number {
  let sum = 0;
  for (let k = start + from; k < start + dim; k++) sum += values[k]! * values[k]!;
  return Math.sqrt(sum);
}

/**
 * The hot loop: for each of the first `keptCount` kept rows, the dot product with each of the
 * first `candidates` rows of `block` (a multiple of 4), updating each candidate's best similarity
 * and row. Four candidates share each load of a kept value and sum into four independent
 * accumulators, about three times faster than one dot product at a time.
 *
 * A row stops after the first quarter of the dimensions when, for all four candidates, the
 * partial sum plus the product of the two rows' remaining norms (Cauchy-Schwarz: the most the
 * rest can add) stays under what would matter: the threshold while a candidate has no duplicate
 * yet, its best similarity once it has one. Unrelated rows, the vast majority, cost a quarter
 * of a full dot product; the result is the same as without the bound.
 */
function scanKept(
  kept: Float32Array,
  keptTail: Float64Array,
  keptCount: number,
  dim: number,
  block: Float32Array,
  blockTail: Float64Array,
  candidates: number,
  threshold: number,
  best: Float64Array,
  bestRow: Int32Array,
): void {
  const m = pruneAt(dim);
  for (let row = 0; row < keptCount; row++) {
    const base = row * dim;
    const tail = keptTail[row]!;
    for (let b = 0; b < candidates; b += 4) {
      const c0 = b * dim;
      const c1 = c0 + dim;
      const c2 = c1 + dim;
      const c3 = c2 + dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < m; k++) {
        const x = kept[base + k]!;
        s0 += x * block[c0 + k]!;
        s1 += x * block[c1 + k]!;
        s2 += x * block[c2 + k]!;
        s3 += x * block[c3 + k]!;
      }
      if (
        m < dim &&
        s0 + tail * blockTail[b]! < Math.max(threshold, best[b]!) - BOUND_SLACK &&
        s1 + tail * blockTail[b + 1]! < Math.max(threshold, best[b + 1]!) - BOUND_SLACK &&
        s2 + tail * blockTail[b + 2]! < Math.max(threshold, best[b + 2]!) - BOUND_SLACK &&
        s3 + tail * blockTail[b + 3]! < Math.max(threshold, best[b + 3]!) - BOUND_SLACK
      ) {
        continue;
      }
      for (let k = m; k < dim; k++) {
        const x = kept[base + k]!;
        s0 += x * block[c0 + k]!;
        s1 += x * block[c1 + k]!;
        s2 += x * block[c2 + k]!;
        s3 += x * block[c3 + k]!;
      }
      if (s0 > best[b]!) {
        best[b] = s0;
        bestRow[b] = row;
      }
      if (s1 > best[b + 1]!) {
        best[b + 1] = s1;
        bestRow[b + 1] = row;
      }
      if (s2 > best[b + 2]!) {
        best[b + 2] = s2;
        bestRow[b + 2] = row;
      }
      if (s3 > best[b + 3]!) {
        best[b + 3] = s3;
        bestRow[b + 3] = row;
      }
    }
  }
}

/**
 * The greedy pass as a resumable loop over blocks of candidates, so that a caller can run it
 * to the end in one go (selectDiverse) or in slices between which the event loop runs
 * (semanticDedup: progress events get out, an abort signal gets in).
 */
class GreedySelection<Id> {
  readonly total: number;
  private readonly order: number[];
  /** Kept rows, normalised, in the order they were kept; keptItem maps a row to its item. */
  private readonly kept: Float32Array;
  private readonly keptTail: Float64Array;
  private readonly keptItem: Int32Array;
  private keptCount = 0;
  private readonly keepFlags: Uint8Array;
  private readonly dropped: TDroppedItem<Id>[] = [];
  private readonly block: Float32Array;
  private readonly blockTail = new Float64Array(BLOCK);
  private readonly best = new Float64Array(BLOCK);
  private readonly bestRow = new Int32Array(BLOCK);
  private next = 0;

  constructor(
    private readonly items: readonly { id: Id; quality?: number | null }[],
    private readonly vectors: Float32Array,
    private readonly dim: number,
    private readonly threshold: number,
  ) {
    checkThreshold(threshold);
    const n = items.length;
    if (!Number.isInteger(dim) || dim < 1 || vectors.length !== n * dim) {
      throw new Error(`expected ${n} vectors of dimension ${dim} (${n * dim} values), got ${vectors.length} values`);
    }
    this.total = n;
    this.order = orderByQuality(items.map((item) => item.quality));
    this.kept = new Float32Array(n * dim);
    this.keptTail = new Float64Array(n);
    this.keptItem = new Int32Array(n);
    this.keepFlags = new Uint8Array(n);
    this.block = new Float32Array(BLOCK * dim);
  }

  /** Items decided so far. */
  get done(): number {
    return this.next;
  }

  /** Decides one block of items, then more until `deadline` (a performance.now() time) passes; true when all are decided. */
  run(deadline = Infinity): boolean {
    while (this.next < this.total) {
      this.decideBlock();
      if (performance.now() >= deadline) break;
    }
    return this.next >= this.total;
  }

  result(): TDedupResult<Id> {
    const keptIds: Id[] = [];
    for (let i = 0; i < this.total; i++) if (this.keepFlags[i]) keptIds.push(this.items[i]!.id);
    return { kept: keptIds, dropped: this.dropped };
  }

  private decideBlock(): void {
    const { dim, vectors, order, kept, block, blockTail, best, bestRow, threshold } = this;
    const start = this.next;
    const size = Math.min(BLOCK, this.total - start);

    // The last block is padded with zero rows up to a multiple of four for scanKept.
    if (size < BLOCK) {
      block.fill(0, size * dim);
      blockTail.fill(0, size);
    }
    for (let b = 0; b < size; b++) {
      const src = order[start + b]! * dim;
      let norm = 0;
      for (let k = 0; k < dim; k++) norm += vectors[src + k]! * vectors[src + k]!;
      const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      const dst = b * dim;
      for (let k = 0; k < dim; k++) block[dst + k] = vectors[src + k]! * scale;
      blockTail[b] = tailNorm(block, dst, pruneAt(dim), dim);
      best[b] = -Infinity;
      bestRow[b] = -1;
    }

    // Every row kept before this block, against every candidate of the block.
    const keptBefore = this.keptCount;
    scanKept(kept, this.keptTail, keptBefore, dim, block, blockTail, (size + 3) & ~3, threshold, best, bestRow);

    // Then, in order, the rows kept inside this block, and the decision.
    for (let b = 0; b < size; b++) {
      const cand = b * dim;
      for (let row = keptBefore; row < this.keptCount; row++) {
        const base = row * dim;
        let s = 0;
        for (let k = 0; k < dim; k++) s += kept[base + k]! * block[cand + k]!;
        if (s > best[b]!) {
          best[b] = s;
          bestRow[b] = row;
        }
      }
      const index = order[start + b]!;
      if (bestRow[b]! >= 0 && best[b]! >= threshold) {
        this.dropped.push({ id: this.items[index]!.id, nearestId: this.items[this.keptItem[bestRow[b]!]!]!.id, similarity: best[b]! });
      } else {
        kept.set(block.subarray(cand, cand + dim), this.keptCount * dim);
        this.keptTail[this.keptCount] = blockTail[b]!;
        this.keptItem[this.keptCount++] = index;
        this.keepFlags[index] = 1;
      }
    }
    this.next = start + size;
  }
}

/**
 * The greedy selection on precomputed vectors (`vectors` is row-major, items.length × dim, in
 * the order of `items`; rows need not be normalised: similarity is the cosine). An item is kept
 * when its maximum similarity to the items kept before it is below `threshold`; a zero vector is
 * similar to nothing and always kept. Runs to the end without yielding.
 */
export function selectDiverse<Id>(
  items: readonly { id: Id; quality?: number | null }[],
  vectors: Float32Array,
  dim: number,
  options: TSelectOptions = {},
): TDedupResult<Id> {
  const selection = new GreedySelection(items, vectors, dim, options.threshold ?? DEFAULT_DEDUP_THRESHOLD);
  let lastReport = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const finished = selection.run(-Infinity);
    if (options.onProgress && (selection.done - lastReport >= PROGRESS_EVERY || finished)) {
      lastReport = selection.done;
      options.onProgress({ phase: 'select', done: selection.done, total: selection.total });
    }
    if (finished) return selection.result();
  }
}

/** The same selection in slices of about SLICE_MS, yielding to the event loop in between. */
async function selectDiverseYielding<Id>(
  items: readonly { id: Id; quality?: number | null }[],
  vectors: Float32Array,
  dim: number,
  options: TSelectOptions,
): Promise<TDedupResult<Id>> {
  const selection = new GreedySelection(items, vectors, dim, options.threshold ?? DEFAULT_DEDUP_THRESHOLD);
  options.onProgress?.({ phase: 'select', done: 0, total: selection.total });
  for (;;) {
    options.signal?.throwIfAborted();
    const finished = selection.run(performance.now() + SLICE_MS);
    options.onProgress?.({ phase: 'select', done: selection.done, total: selection.total });
    if (finished) return selection.result();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Embeds every item's text (in batches, with progress) and runs the greedy selection. This is
 * the entry point for dataset builds: `semanticDedup(items, { threshold, model?, onProgress? })`.
 */
export async function semanticDedup<Id>(items: readonly TDedupItem<Id>[], options: TSemanticDedupOptions = {}): Promise<TDedupResult<Id>> {
  const threshold = options.threshold ?? DEFAULT_DEDUP_THRESHOLD;
  checkThreshold(threshold);
  if (items.length === 0) return { kept: [], dropped: [] };
  const model =
    typeof options.model === 'object'
      ? options.model
      : await loadEmbeddingModel(options.model ? { ...embeddingConfigFromEnv(), model: options.model } : embeddingConfigFromEnv());
  const vectors = await embedTexts(
    model,
    items.map((item) => item.text),
    {
      batchSize: options.batchSize,
      signal: options.signal,
      onProgress: options.onProgress && ((p) => options.onProgress!({ phase: 'embed', ...p })),
    },
  );
  return selectDiverseYielding(items, vectors, model.dim, { threshold, onProgress: options.onProgress, signal: options.signal });
}
