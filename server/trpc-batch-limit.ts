/**
 * Most calls one batched /api/trpc request may carry. Shared with the browser's batch link, which
 * splits larger batches, so only a hand-made request meets the refusal. A page makes a few dozen
 * queries at most; hundreds in one request only multiply the work a single request can order.
 */
export const TRPC_MAX_BATCH_CALLS = 50;

/**
 * Longest URL the browser's batch link builds before it splits a batch of queries: Node.js refuses
 * request heads over 16 KiB (431) before any of our code runs.
 */
export const TRPC_MAX_URL_LENGTH = 8_000;
