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
 * entries. Both sizes were chosen by measurement (docs/benchmarks.md): one
 * counter per key and row, aged every 10 × entries, lost 1.2 points of hit
 * ratio on the P6 trace at 5 000 entries.
 *
 * @module
 */
import { _mix } from "./_hash.ts";

const BLOCK = 64;
const MAX_COUNT = 15;

/** Estimates how often each key hash was seen recently, in O(1) per use. */
export class _FrequencySketch {
  #counters: Uint8Array;
  #doorkeeper: Int32Array;
  #blockMask: number;
  #doorMask: number;
  #uses = 0;
  #sampleSize: number;

  /**
   * Sizes the sketch for about `capacity` keys, aged every `age × width` recorded uses (`width`
   * being about 4 × `capacity`).
   */
  constructor(capacity: number, age = 10) {
    let width = 16;
    while (width < 4 * capacity) width *= 2;
    this.#counters = new Uint8Array(4 * width);
    this.#blockMask = (4 * width) / BLOCK - 1;
    // A doorkeeper of 8 bits per counter row slot, probed twice.
    this.#doorkeeper = new Int32Array(width / 4);
    this.#doorMask = width * 8 - 1;
    this.#sampleSize = age * width;
  }

  /** The number of counters per row (`4 × capacity` rounded up to a power of two). */
  get width(): number {
    return this.#counters.length / 4;
  }

  /** Records one use of the key with `hash` (a 30-bit hash). */
  increment(hash: number): void {
    const spread = _FrequencySketch.spreadOf(hash);
    const door = this.#doorkeeper;
    const a = spread & this.#doorMask;
    const b = ((spread >>> 13) ^ hash) & this.#doorMask;
    if ((((door[a >>> 5]! >>> (a & 31)) & (door[b >>> 5]! >>> (b & 31))) & 1) === 0) {
      // A first sighting only enters the doorkeeper.
      door[a >>> 5]! |= 1 << (a & 31);
      door[b >>> 5]! |= 1 << (b & 31);
      if (++this.#uses >= this.#sampleSize) this.#age();
      return;
    }
    this.incrementSeen(hash, spread);
  }

  /** The second hash of `hash` that picks counters within a block; callers may cache it. */
  static spreadOf(hash: number): number {
    return _mix(hash ^ 0x2c1b3c6d);
  }

  /**
   * Records one use of a key already seen since the last aging (a hit): its
   * doorkeeper bits are set, so this goes straight to the counters. `spread`
   * is `spreadOf(hash)`, cached per entry by the caller (the hit path).
   */
  incrementSeen(hash: number, spread: number): void {
    const counters = this.#counters;
    const block = (hash & this.#blockMask) * BLOCK;
    const at0 = block + (spread & 15);
    const at1 = block + 16 + ((spread >>> 4) & 15);
    const at2 = block + 32 + ((spread >>> 8) & 15);
    const at3 = block + 48 + ((spread >>> 12) & 15);
    if (counters[at0]! < MAX_COUNT) counters[at0]!++;
    if (counters[at1]! < MAX_COUNT) counters[at1]!++;
    if (counters[at2]! < MAX_COUNT) counters[at2]!++;
    if (counters[at3]! < MAX_COUNT) counters[at3]!++;
    if (++this.#uses >= this.#sampleSize) this.#age();
  }

  /** The estimated number of recent uses of the key with `hash`. */
  frequency(hash: number): number {
    const spread = _FrequencySketch.spreadOf(hash);
    const counters = this.#counters;
    const block = (hash & this.#blockMask) * BLOCK;
    const min = Math.min(
      counters[block + (spread & 15)]!,
      counters[block + 16 + ((spread >>> 4) & 15)]!,
      counters[block + 32 + ((spread >>> 8) & 15)]!,
      counters[block + 48 + ((spread >>> 12) & 15)]!,
    );
    const door = this.#doorkeeper;
    const a = spread & this.#doorMask;
    const b = ((spread >>> 13) ^ hash) & this.#doorMask;
    return min + ((door[a >>> 5]! >>> (a & 31)) & (door[b >>> 5]! >>> (b & 31)) & 1);
  }

  /** The estimate without the doorkeeper's bit. */
  count(hash: number): number {
    const spread = _FrequencySketch.spreadOf(hash);
    const counters = this.#counters;
    const block = (hash & this.#blockMask) * BLOCK;
    return Math.min(
      counters[block + (spread & 15)]!,
      counters[block + 16 + ((spread >>> 4) & 15)]!,
      counters[block + 32 + ((spread >>> 8) & 15)]!,
      counters[block + 48 + ((spread >>> 12) & 15)]!,
    );
  }

  /** Halves every counter and empties the doorkeeper. */
  #age(): void {
    const counters = this.#counters;
    for (let i = 0; i < counters.length; i++) counters[i] = counters[i]! >>> 1;
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
