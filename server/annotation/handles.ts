import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { env } from '../env';
import { AppError } from '../errors';
import type { TLeasedComparison } from './lease';

/**
 * What an annotator holds instead of a comparison or assignment id: one AES-256 block over
 * (assignment id, annotator id) under a key derived from AUTH_SECRET.
 *
 * Why not the ids themselves: comparison ids are shared by everyone who judges the item, so
 * colluding annotators could pool answers; assignment ids are a sequence, so their order inside a
 * batch told which row the server inserted apart (the gold item). A block cipher is a keyed
 * permutation: the handle is deterministic (the client keeps its queue across re-leases), looks
 * random, differs between annotators for the same comparison, and the server gets the assignment
 * back without a lookup table. A handle decrypted for the wrong annotator names another annotator
 * id and is refused; a forged one hits the right annotator id with probability 2^-64.
 */
let cachedKey: Buffer | undefined;

function handleKey(): Buffer {
  if (!cachedKey) {
    // Web processes get AUTH_SECRET from the launcher or the operator; a process without one
    // (tests, a one-off script) uses a key of its own, so its handles only make sense to itself.
    const secret = env().AUTH_SECRET ?? randomBytes(32).toString('hex');
    cachedKey = createHmac('sha256', secret).update('pairwise annotator handles v1').digest();
  }
  return cachedKey;
}

const HANDLE_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The opaque handle of one of `annotatorId`'s assignments. */
export function assignmentHandle(assignmentId: number, annotatorId: number): string {
  const block = Buffer.alloc(16);
  block.writeBigUInt64BE(BigInt(assignmentId), 0);
  block.writeBigUInt64BE(BigInt(annotatorId), 8);
  const cipher = createCipheriv('aes-256-ecb', handleKey(), null).setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
}

/** The assignment behind a handle, or null when it is malformed or not this annotator's. */
export function assignmentOfHandle(handle: string, annotatorId: number): number | null {
  if (!HANDLE_PATTERN.test(handle)) return null;
  const decipher = createDecipheriv('aes-256-ecb', handleKey(), null).setAutoPadding(false);
  const block = Buffer.concat([decipher.update(Buffer.from(handle, 'base64url')), decipher.final()]);
  if (block.readBigUInt64BE(8) !== BigInt(annotatorId)) return null;
  const assignmentId = block.readBigUInt64BE(0);
  return assignmentId > 0n && assignmentId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(assignmentId) : null;
}

/** Same refusal as an assignment that is not the annotator's: NOT_FOUND, naming the field. */
export function requireAssignmentOfHandle(handle: string, annotatorId: number): number {
  const assignmentId = assignmentOfHandle(handle, annotatorId);
  if (assignmentId === null) throw new AppError('NOT_FOUND', 'no such assignment for this annotator', { field: 'handle' });
  return assignmentId;
}

/** A leased comparison as an annotator receives it: a handle where the ids were. */
export interface TAnnotatorItem {
  handle: string;
  expiresAt: string;
  prompt: TLeasedComparison['prompt'];
  responses: TLeasedComparison['responses'];
}

export function toAnnotatorItem(item: TLeasedComparison, annotatorId: number): TAnnotatorItem {
  return { handle: assignmentHandle(item.assignmentId, annotatorId), expiresAt: item.expiresAt, prompt: item.prompt, responses: item.responses };
}
