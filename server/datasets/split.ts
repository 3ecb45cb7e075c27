import { createHash } from 'node:crypto';

export type TSplit = 'train' | 'test';

/**
 * The split of a prompt: a hash of the seed and the prompt's content hash, read as a number in
 * [0, 1), against the test share. By content, not by row id, so the same conversation lands in
 * the same split in every project and every rebuild: no prompt is ever in both.
 */
export function splitOfPrompt(promptHash: string, seed: string, testFraction: number): TSplit {
  if (testFraction <= 0) return 'train';
  const digest = createHash('sha256').update(`${seed}\u0000${promptHash}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32 < testFraction ? 'test' : 'train';
}
