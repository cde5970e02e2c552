/**
 * The frequency sketch of TinyLFU: a count-min sketch of 4-bit counters with
 * four rows, a doorkeeper bloom filter in front of it, and aging — every
 * `age × 4` uses per key it is sized for, all counters are halved and the
 * doorkeeper is emptied, so old popularity fades.
 *
 * Laid out as Caffeine lays its sketch out: a key maps to one 64-counter
 * block (a cache line) and to one counter in each of the block's four
 * 16-counter rows, so a use touches one cache line, not four. Sized to the
 * keys, not rounded up to a power of two (a key's block is picked by
 * multiplying, not masking): 16 counters per key, two to a byte (8 bytes per
 * key, like Caffeine's table of longs), and a doorkeeper of 32 bits per key
 * (4 bytes) for sketches of up to 65 536 keys; larger ones have none (issue
 * 14: memory per entry). The power-of-two rounding gave 16–32 counters per
 * key (8.4–10.5 bytes per entry at 100 000 – 1 000 000 entries, plus a 4.2–5.2
 * byte doorkeeper). Sizes chosen by measurement (docs/benchmarks.md): 8 or 12
 * counters per key lost 0.5–1.4 points at P12@131 072 (mean over four seeds)
 * whatever the doorkeeper; without a doorkeeper loops lose 2–5 points at a
 * few hundred entries, but at 100 000 entries and more it is worth at most
 * 0.64 (loop-over at 100 000) and nothing on P12@131 072; one counter per key
 * and row lost 1.2 points on P6 at 5 000 entries.
 *
 * @module
 */
import { _mix } from "./_hash.ts";

const BLOCK = 64;

/**
 * The second hash of `hash` that picks counters within a block; callers may cache it. A module
 * function, not a static method: called through the class binding it measured 16 ns more per
 * sketch update (one loaded run).
 */
export function _spreadOf(hash: number): number {
  return _mix(hash ^ 0x2c1b3c6d);
}
const MAX_COUNT = 15;

/**
 * The 30 bits that pick a key's block: multiplicative (Fibonacci) hashing of all of `hash`'s bits,
 * not its high bits alone — the adaptive policy's miniatures see only keys whose hash is below a
 * threshold, whose high bits are all 0.
 */
function _blockHash(hash: number): number {
  return Math.imul(hash, 0x9e3779b1) >>> 2;
}

/** A second 30-bit hash for the doorkeeper's other bit. */
function _second(hash: number, spread: number): number {
  return Math.imul(spread ^ (hash << 1), 0x9e3779b1) >>> 2;
}

/** Counter `i` of `counters` (4 bits). */
function read(counters: Uint8Array, i: number): number {
  return (counters[i >>> 1]! >>> ((i & 1) << 2)) & 15;
}

/** Adds one to counter `i`, saturating at 15. */
function bump(counters: Uint8Array, i: number): void {
  const shift = (i & 1) << 2;
  if (((counters[i >>> 1]! >>> shift) & 15) < MAX_COUNT) counters[i >>> 1]! += 1 << shift;
}

/** Counters per key: 16 (4 bits each), in blocks of 64. */
const COUNTERS_PER_KEY = 16;
/** Doorkeeper bits per key, in sketches of up to `DOORKEEPER_MAX_KEYS` keys. */
const DOOR_BITS_PER_KEY = 32;
/** Larger sketches have no doorkeeper (the store's initial slot capacity). */
const DOORKEEPER_MAX_KEYS = 1 << 16;

/** Estimates how often each key hash was seen recently, in O(1) per use. */
export class _FrequencySketch {
  // Two 4-bit counters per byte: counter i is the low (even i) or high (odd i) half of byte i/2.
  #counters: Uint8Array;
  #doorkeeper: Int32Array;
  /** Blocks / 2³⁰: a hash's block is `hash × blockScale` (exact in a double). */
  #blockScale: number;
  /** Doorkeeper bits / 2³⁰. */
  #doorScale: number;
  #keys: number;
  #uses = 0;
  #sampleSize: number;

  /**
   * Sizes the sketch for about `capacity` keys, aged every `age × 4 × capacity` recorded uses.
   */
  constructor(capacity: number, age = 10) {
    this.#keys = Math.max(1, capacity);
    let blocks = Math.ceil((this.#keys * COUNTERS_PER_KEY) / BLOCK);
    let doorWords = Math.ceil((this.#keys * DOOR_BITS_PER_KEY) / 32);
    if (this.#keys > DOORKEEPER_MAX_KEYS) doorWords = 0;
    else {
      // Small sketches are rounded up to a power of two, as they always were.
      blocks = 2 ** Math.ceil(Math.log2(blocks));
      doorWords = 2 ** Math.ceil(Math.log2(doorWords));
    }
    this.#counters = new Uint8Array(blocks * (BLOCK / 2));
    this.#blockScale = blocks / 1073741824;
    this.#doorkeeper = new Int32Array(doorWords);
    this.#doorScale = (doorWords * 32) / 1073741824;
    this.#sampleSize = Math.round(age * 4 * this.#keys);
  }

  /** The number of keys it is sized for. */
  get keys(): number {
    return this.#keys;
  }

  /** Records one use of the key with `hash` (a 30-bit hash). */
  increment(hash: number): void {
    this.incrementSpread(hash, _spreadOf(hash));
  }

  /** {@linkcode _FrequencySketch.increment} with `spread` = `spreadOf(hash)` given. */
  incrementSpread(hash: number, spread: number): void {
    const door = this.#doorkeeper;
    if (door.length === 0) return this.incrementSeen(hash, spread);
    const a = (spread * this.#doorScale) | 0;
    const b = ((_second(hash, spread)) * this.#doorScale) | 0;
    if ((((door[a >>> 5]! >>> (a & 31)) & (door[b >>> 5]! >>> (b & 31))) & 1) === 0) {
      // A first sighting only enters the doorkeeper.
      door[a >>> 5]! |= 1 << (a & 31);
      door[b >>> 5]! |= 1 << (b & 31);
      if (++this.#uses >= this.#sampleSize) this.#halve();
      return;
    }
    this.incrementSeen(hash, spread);
  }

  /** The second hash of `hash` that picks counters within a block (see {@linkcode _spreadOf}). */
  static spreadOf(hash: number): number {
    return _spreadOf(hash);
  }

  /**
   * Records one use of a key already seen since the last aging (a hit): its
   * doorkeeper bits are set, so this goes straight to the counters. `spread`
   * is `spreadOf(hash)`.
   */
  incrementSeen(hash: number, spread: number): void {
    const counters = this.#counters;
    const block = ((_blockHash(hash) * this.#blockScale) | 0) * BLOCK;
    bump(counters, block + (spread & 15));
    bump(counters, block + 16 + ((spread >>> 4) & 15));
    bump(counters, block + 32 + ((spread >>> 8) & 15));
    bump(counters, block + 48 + ((spread >>> 12) & 15));
    if (++this.#uses >= this.#sampleSize) this.#halve();
  }

  /** The estimated number of recent uses of the key with `hash`. */
  frequency(hash: number): number {
    const spread = _spreadOf(hash);
    const door = this.#doorkeeper;
    if (door.length === 0) return this.#min(hash, spread);
    const a = (spread * this.#doorScale) | 0;
    const b = ((_second(hash, spread)) * this.#doorScale) | 0;
    return this.#min(hash, spread) +
      ((door[a >>> 5]! >>> (a & 31)) & (door[b >>> 5]! >>> (b & 31)) & 1);
  }

  /** The estimate without the doorkeeper's bit. */
  count(hash: number): number {
    return this.#min(hash, _spreadOf(hash));
  }

  #min(hash: number, spread: number): number {
    const counters = this.#counters;
    const block = ((_blockHash(hash) * this.#blockScale) | 0) * BLOCK;
    return Math.min(
      read(counters, block + (spread & 15)),
      read(counters, block + 16 + ((spread >>> 4) & 15)),
      read(counters, block + 32 + ((spread >>> 8) & 15)),
      read(counters, block + 48 + ((spread >>> 12) & 15)),
    );
  }

  /** Halves every counter (both halves of each byte at once) and empties the doorkeeper. */
  #halve(): void {
    const counters = this.#counters;
    for (let i = 0; i < counters.length; i++) counters[i] = (counters[i]! >>> 1) & 0x77;
    this.#doorkeeper.fill(0);
    this.#uses = this.#uses >>> 1;
  }

  /**
   * Doubles the sketch until it is sized for `capacity` keys, keeping every estimate exactly:
   * a key's block is `hash × blocks / 2³⁰`, so with twice the blocks it is one of the two
   * copies of its old block; likewise each doorkeeper bit becomes two (a sketch that grows past
   * 65 536 keys keeps its doorkeeper). Only the aging period grows, as if the sketch had been
   * this large since the last aging.
   */
  grow(capacity: number): void {
    while (this.#keys < capacity) {
      const old = this.#counters;
      const counters = new Uint8Array(2 * old.length);
      const blockBytes = BLOCK / 2;
      for (let b = 0; b < old.length / blockBytes; b++) {
        const from = old.subarray(b * blockBytes, (b + 1) * blockBytes);
        counters.set(from, 2 * b * blockBytes);
        counters.set(from, (2 * b + 1) * blockBytes);
      }
      this.#counters = counters;
      this.#blockScale *= 2;
      const oldDoor = this.#doorkeeper;
      if (oldDoor.length > 0) {
        const door = new Int32Array(2 * oldDoor.length);
        for (let bit = 0; bit < oldDoor.length * 32; bit++) {
          if (((oldDoor[bit >>> 5]! >>> (bit & 31)) & 1) === 0) continue;
          door[bit >>> 4]! |= 3 << ((2 * bit) & 31);
        }
        this.#doorkeeper = door;
        this.#doorScale *= 2;
      }
      this.#keys *= 2;
      this.#sampleSize *= 2;
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.#counters.fill(0);
    this.#doorkeeper.fill(0);
    this.#uses = 0;
  }
}
