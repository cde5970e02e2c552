/**
 * A fast string hash for the policies that remember keys (ghost
 * queues, frequency sketches): FNV-1a over UTF-16 code units, then a
 * murmur3-style finaliser so every bit depends on every input bit.
 *
 * @module
 */

/**
 * The hash of `key`, 30 bits: small enough to be a V8 small integer, so it
 * never gets boxed on its way through the policy. A policy that admits by
 * frequency passes a `seed` of its own, so which keys collide cannot be
 * worked out in advance by someone choosing keys.
 */
export function _hashKey(key: string, seed = 0): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  return _mix(h);
}

/** Scrambles an integer (murmur3's fmix32), keeping the low 30 bits. */
export function _mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}
