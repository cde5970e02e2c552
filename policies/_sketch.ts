/**
 * The frequency sketch of TinyLFU: a count-min sketch of 4-bit counters with
 * four rows, a doorkeeper bloom filter in front of it, and aging — every
 * `10 × width` recorded uses, all counters are halved and the doorkeeper is
 * emptied, so old popularity fades.
 *
 * Laid out as Caffeine lays its sketch out: a key maps to one 64-counter
 * block (a cache line) and to one counter in each of the block's four
 * 16-counter rows, so a use touches one cache line, not four. There are
 * `4 × width` counters, `width` being the power of two at or above 4 × the
 * entries, two to a byte (8 bytes per entry, like Caffeine's table of longs). Both sizes were chosen by measurement (docs/benchmarks.md): one
 * counter per key and row, aged every 10 × entries, lost 1.2 points of hit
 * ratio on the P6 trace at 5 000 entries.
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

/** Counter `i` of `counters` (4 bits). */
function read(counters: Uint8Array, i: number): number {
  return (counters[i >>> 1]! >>> ((i & 1) << 2)) & 15;
}

/** Adds one to counter `i`, saturating at 15. */
function bump(counters: Uint8Array, i: number): void {
  const shift = (i & 1) << 2;
  if (((counters[i >>> 1]! >>> shift) & 15) < MAX_COUNT) counters[i >>> 1]! += 1 << shift;
}

/** Estimates how often each key hash was seen recently, in O(1) per use. */
export class _FrequencySketch {
  // Two 4-bit counters per byte: counter i is the low (even i) or high (odd i) half of byte i/2.
  #counters: Uint8Array;
  #doorkeeper: Int32Array;
  #blockMask: number;
  #doorMask: number;
  /** The second doorkeeper bit varies only within these low bits of the first's index. */
  #doorLine: number;
  #blockedDoor: boolean;
  #uses = 0;
  #sampleSize: number;

  /**
   * Sizes the sketch for about `capacity` keys, aged every `age × width` recorded uses (`width`
   * being about 4 × `capacity`).
   */
  constructor(capacity: number, age = 10, blockedDoor = false) {
    let width = 16;
    while (width < 4 * capacity) width *= 2;
    this.#counters = new Uint8Array(2 * width);
    this.#blockMask = (4 * width) / BLOCK - 1;
    // A doorkeeper of 8 bits per counter row slot, probed twice.
    this.#doorkeeper = new Int32Array(width / 4);
    this.#doorMask = width * 8 - 1;
    // Blocked: both bits of a key in one 512-bit cache line, so a probe costs one cache miss.
    this.#blockedDoor = blockedDoor;
    this.#doorLine = blockedDoor ? Math.min(511, this.#doorMask) : this.#doorMask;
    this.#sampleSize = age * width;
  }

  /** The number of counters per row (`4 × capacity` rounded up to a power of two). */
  get width(): number {
    return this.#counters.length / 2;
  }

  /** Records one use of the key with `hash` (a 30-bit hash). */
  increment(hash: number): void {
    this.incrementSpread(hash, _spreadOf(hash));
  }

  /** {@linkcode _FrequencySketch.increment} with `spread` = `spreadOf(hash)` given. */
  incrementSpread(hash: number, spread: number): void {
    const door = this.#doorkeeper;
    const a = spread & this.#doorMask;
    const line = this.#doorLine;
    const b = (a & ~line) | (((spread >>> 13) ^ hash) & line);
    if ((((door[a >>> 5]! >>> (a & 31)) & (door[b >>> 5]! >>> (b & 31))) & 1) === 0) {
      // A first sighting only enters the doorkeeper.
      door[a >>> 5]! |= 1 << (a & 31);
      door[b >>> 5]! |= 1 << (b & 31);
      if (++this.#uses >= this.#sampleSize) this.#age();
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
    const block = (hash & this.#blockMask) * BLOCK;
    bump(counters, block + (spread & 15));
    bump(counters, block + 16 + ((spread >>> 4) & 15));
    bump(counters, block + 32 + ((spread >>> 8) & 15));
    bump(counters, block + 48 + ((spread >>> 12) & 15));
    if (++this.#uses >= this.#sampleSize) this.#age();
  }

  /** The estimated number of recent uses of the key with `hash`. */
  frequency(hash: number): number {
    const spread = _spreadOf(hash);
    const door = this.#doorkeeper;
    const a = spread & this.#doorMask;
    const line = this.#doorLine;
    const b = (a & ~line) | (((spread >>> 13) ^ hash) & line);
    return this.#min(hash, spread) +
      ((door[a >>> 5]! >>> (a & 31)) & (door[b >>> 5]! >>> (b & 31)) & 1);
  }

  /** The estimate without the doorkeeper's bit. */
  count(hash: number): number {
    return this.#min(hash, _spreadOf(hash));
  }

  #min(hash: number, spread: number): number {
    const counters = this.#counters;
    const block = (hash & this.#blockMask) * BLOCK;
    return Math.min(
      read(counters, block + (spread & 15)),
      read(counters, block + 16 + ((spread >>> 4) & 15)),
      read(counters, block + 32 + ((spread >>> 8) & 15)),
      read(counters, block + 48 + ((spread >>> 12) & 15)),
    );
  }

  /** Halves every counter (both halves of each byte at once) and empties the doorkeeper. */
  #age(): void {
    const counters = this.#counters;
    for (let i = 0; i < counters.length; i++) counters[i] = (counters[i]! >>> 1) & 0x77;
    this.#doorkeeper.fill(0);
    this.#uses = this.#uses >>> 1;
  }

  /**
   * Doubles the sketch until it is sized for `capacity` keys, keeping every estimate exactly:
   * a key's block is `hash & blockMask`, so after doubling it lands in one of the two copies
   * of its old block, and its doorkeeper bits in one of the two copies of the old filter. Only
   * the aging period (`10 × width`) grows, as if the sketch had been this large since the
   * last aging.
   */
  grow(capacity: number): void {
    while (this.width < 4 * capacity) {
      const old = this.#counters;
      const counters = new Uint8Array(2 * old.length);
      counters.set(old);
      counters.set(old, old.length);
      this.#counters = counters;
      this.#blockMask = 2 * this.#blockMask + 1;
      const oldDoor = this.#doorkeeper;
      const door = new Int32Array(2 * oldDoor.length);
      door.set(oldDoor);
      door.set(oldDoor, oldDoor.length);
      this.#doorkeeper = door;
      this.#doorMask = 2 * this.#doorMask + 1;
      this.#doorLine = this.#blockedDoor ? Math.min(511, this.#doorMask) : this.#doorMask;
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
