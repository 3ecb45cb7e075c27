/**
 * A small seedable PRNG so resampling and model fitting are reproducible from a seed (Math.random
 * cannot be seeded). xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number
 * generators", 2018) seeded through the murmur3 finalizer on a Weyl sequence (splitmix32), so
 * nearby seeds such as 1, 2, 3 give unrelated streams.
 */

const twoTo32 = 2 ** 32;

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A generator seeded by any safe integer (all 53 bits count). `float()` is uniform on [0, 1) with
 * 32-bit resolution; `int(n)` is uniform on 0..n-1 for an integer 1 <= n <= 2^32, without modulo
 * bias (rejection sampling).
 */
export function createRng(seed: number): { float(): number; int(n: number): number } {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const high = Math.floor(seed / twoTo32) >>> 0;
  let weyl = (seed >>> 0) ^ fmix32(high ^ 0x6a09e667);
  const split = () => {
    weyl = (weyl + 0x9e3779b9) | 0;
    return fmix32(weyl);
  };
  let s0 = split();
  let s1 = split();
  let s2 = split();
  let s3 = split();
  // The all-zero state is xoshiro's one fixed point.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  return {
    float: () => next() / twoTo32,
    int: (n: number) => {
      if (!Number.isInteger(n) || n < 1 || n > twoTo32) throw new RangeError(`int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
      const limit = twoTo32 - (twoTo32 % n);
      let x = next();
      while (x >= limit) x = next();
      return x % n;
    },
  };
}
