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

/** Counter `i` of `counters` (4 bits). */
function read(counters: Uint8Array, i: number): number {
  return (counters[i >>> 1]! >>> ((i & 1) << 2)) & 15;
}

/** Adds one to counter `i`, saturating at 15 (the hot path's form of {@linkcode add}: ~1 ns less per update). */
function bump(counters: Uint8Array, i: number): void {
  const shift = (i & 1) << 2;
  if (((counters[i >>> 1]! >>> shift) & 15) < MAX_COUNT) counters[i >>> 1]! += 1 << shift;
}

/** Adds `uses` to counter `i`, saturating at 15. */
function add(counters: Uint8Array, i: number, uses: number): void {
  const shift = (i & 1) << 2;
  const byte = counters[i >>> 1]!;
  const count = Math.min(MAX_COUNT, ((byte >>> shift) & 15) + uses);
  counters[i >>> 1] = (byte & ~(15 << shift)) | (count << shift);
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
  /**
   * A key's block is `hash & blockMask` when the number of blocks is a power of two (as it always
   * was; the low bits pick it); otherwise `blockMask` is -1 and it is `hash × blockScale`,
   * `blockScale` being `blocks / 2³⁰` (the high bits pick it, exact in a double).
   */
  #blockMask: number;
  #blockScale: number;
  #doorMask: number;
  /** The second doorkeeper bit varies only within these low bits of the first's index. */
  #doorLine: number;
  #blockedDoor: boolean;
  #keys: number;
  #uses = 0;
  #sampleSize: number;
  /**
   * Called right before every aging, so an owner that holds uses back (the W-TinyLFU engine keeps
   * a hit's use in its slot until the slot leaves or the sketch ages) can add them first.
   */
  beforeAging: (() => void) | undefined;

  /**
   * Sizes the sketch for about `capacity` keys, aged every `age × 4 × capacity` recorded uses.
   */
  constructor(capacity: number, age = 10, blockedDoor = false) {
    this.#keys = Math.max(1, capacity);
    let blocks = Math.ceil((this.#keys * COUNTERS_PER_KEY) / BLOCK);
    let doorWords = 0;
    if (this.#keys <= DOORKEEPER_MAX_KEYS) {
      // Small sketches are laid out as they always were: rounded up to a power of two.
      blocks = 2 ** Math.ceil(Math.log2(blocks));
      doorWords = Math.max(4, 2 ** Math.ceil(Math.log2(this.#keys * DOOR_BITS_PER_KEY / 32)));
      this.#blockMask = blocks - 1;
      this.#blockScale = 1;
    } else {
      this.#blockMask = -1;
      this.#blockScale = blocks / 1073741824;
    }
    this.#counters = new Uint8Array(blocks * (BLOCK / 2));
    this.#doorkeeper = new Int32Array(doorWords);
    this.#doorMask = doorWords * 32 - 1;
    // Blocked: both bits of a key in one 512-bit cache line, so a probe costs one cache miss.
    this.#blockedDoor = blockedDoor;
    this.#doorLine = blockedDoor ? Math.min(511, this.#doorMask) : this.#doorMask;
    // 4 × age uses per key, counted in counters per row (what it always was for small sketches).
    this.#sampleSize = Math.round(age * blocks * (BLOCK / 4)) | 0;
  }

  /** The index of the first counter of `hash`'s block. */
  #block(hash: number): number {
    const mask = this.#blockMask;
    // Masking, not multiplying, where it can: a double multiply there cost ~1.5 ns per update.
    return (mask >= 0 ? hash & mask : (hash * this.#blockScale) | 0) * BLOCK;
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
    const a = spread & this.#doorMask;
    const line = this.#doorLine;
    const b = (a & ~line) | (((spread >>> 13) ^ hash) & line);
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
    const block = this.#block(hash);
    bump(counters, block + (spread & 15));
    bump(counters, block + 16 + ((spread >>> 4) & 15));
    bump(counters, block + 32 + ((spread >>> 8) & 15));
    bump(counters, block + 48 + ((spread >>> 12) & 15));
    if (++this.#uses >= this.#sampleSize) this.#halve();
  }

  /**
   * Counts `uses` uses of keys whose counters their owner adds later, by {@linkcode addSeen}
   * (before the next aging, which {@linkcode beforeAging} announces), and ages if they complete a
   * period. The W-TinyLFU engine's owner reports its hits this way at its next insert, in one call,
   * rather than once per hit (8 ns of a 77 ns hit at 10 000 entries); so a period of hits ends at
   * the next insert, and a long run of hits with no insert ages once, not once per period.
   */
  addUses(uses: number): void {
    this.#uses += uses;
    if (this.#uses >= this.#sampleSize) this.#halve();
  }

  /**
   * Adds `uses` (≥ 1) to the counters of a key already seen (its doorkeeper bits are set), whose
   * uses were already counted by {@linkcode addUses}: the same counters as `uses` calls of
   * {@linkcode incrementSeen}, saturating at 15.
   */
  addSeen(hash: number, spread: number, uses: number): void {
    const counters = this.#counters;
    const block = this.#block(hash);
    add(counters, block + (spread & 15), uses);
    add(counters, block + 16 + ((spread >>> 4) & 15), uses);
    add(counters, block + 32 + ((spread >>> 8) & 15), uses);
    add(counters, block + 48 + ((spread >>> 12) & 15), uses);
  }

  /** {@linkcode count} with `spread` = `spreadOf(hash)` given. */
  countSpread(hash: number, spread: number): number {
    return this.#min(hash, spread);
  }

  /** The estimated number of recent uses of the key with `hash`. */
  frequency(hash: number): number {
    const spread = _spreadOf(hash);
    const door = this.#doorkeeper;
    if (door.length === 0) return this.#min(hash, spread);
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
    const block = this.#block(hash);
    return Math.min(
      read(counters, block + (spread & 15)),
      read(counters, block + 16 + ((spread >>> 4) & 15)),
      read(counters, block + 32 + ((spread >>> 8) & 15)),
      read(counters, block + 48 + ((spread >>> 12) & 15)),
    );
  }

  /** Halves every counter (both halves of each byte at once) and empties the doorkeeper. */
  #halve(): void {
    this.beforeAging?.();
    const counters = this.#counters;
    for (let i = 0; i < counters.length; i++) counters[i] = (counters[i]! >>> 1) & 0x77;
    this.#doorkeeper.fill(0);
    this.#uses = this.#uses >>> 1;
  }

  /**
   * Doubles the sketch until it is sized for `capacity` keys, keeping every estimate exactly. A
   * power-of-two sketch picks a key's block by its low bits, so after doubling it is one of the
   * two copies of the old table, and its doorkeeper bits one of the two copies of the old filter
   * (a sketch that grows past 65 536 keys keeps its doorkeeper); a larger one picks it by
   * multiplying, so block `b` becomes blocks `2b` and `2b + 1`. Only the aging period grows, as
   * if the sketch had been this large since the last aging.
   */
  grow(capacity: number): void {
    while (this.#keys < capacity) {
      const old = this.#counters;
      const counters = new Uint8Array(2 * old.length);
      if (this.#blockMask >= 0) {
        counters.set(old);
        counters.set(old, old.length);
        this.#blockMask = 2 * this.#blockMask + 1;
      } else {
        const bytes = BLOCK / 2;
        for (let b = 0; b < old.length / bytes; b++) {
          const block = old.subarray(b * bytes, (b + 1) * bytes);
          counters.set(block, 2 * b * bytes);
          counters.set(block, (2 * b + 1) * bytes);
        }
        this.#blockScale *= 2;
      }
      this.#counters = counters;
      const oldDoor = this.#doorkeeper;
      if (oldDoor.length > 0) {
        const door = new Int32Array(2 * oldDoor.length);
        door.set(oldDoor);
        door.set(oldDoor, oldDoor.length);
        this.#doorkeeper = door;
        this.#doorMask = 2 * this.#doorMask + 1;
        this.#doorLine = this.#blockedDoor ? Math.min(511, this.#doorMask) : this.#doorMask;
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
