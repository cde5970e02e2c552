/**
 * W-TinyLFU, after Gil Einziger, Roy Friedman and Ben Manes, "TinyLFU: A
 * Highly Efficient Cache Admission Policy", ACM Transactions on Storage 13(4),
 * 2017 — the policy of Caffeine (Java) and moka (Rust).
 *
 * New entries enter a small LRU window (1 % of the entries). An entry leaving
 * the window is a candidate for the main space, a segmented LRU (80 %
 * protected, 20 % probation): it is admitted only if a frequency sketch
 * (count-min, 4-bit counters, doorkeeper, halved periodically; see
 * `_sketch.ts`) says it has been used more often recently than the
 * probation entry it would displace; otherwise it is the one evicted.
 *
 * Caffeine also tunes the window's share by hill climbing; a version of that
 * was measured here and lost up to 7 points on the P6 trace while changing
 * Zipf workloads by under 0.3 (docs/benchmarks.md), so the share is a fixed
 * option.
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues, NONE, QUEUE_MASK } from "./_queues.ts";
import { _FrequencySketch } from "./_sketch.ts";
import { _hashKey } from "./_hash.ts";
import { checkOptionNames } from "../cache.ts";

const WINDOW = 0, PROBATION = 1, PROTECTED = 2;
const PROTECTED_SHARE = 0.8;
const MAX_WINDOW = 0.8;

/** Options of {@linkcode TinyLfuPolicy}. */
export interface TinyLfuOptions {
  /** The window's share of the entries, in `[0, 0.8]`. Default `0.01`. */
  window?: number | undefined;
  /** The most slots the store will use (`maxEntries + 1`): the sketch is sized for it from the start. */
  limit?: number | undefined;
  /**
   * Seeds the key hash (a 32-bit integer), so which keys collide in the sketch cannot be known
   * by someone choosing keys. Default: a random seed per instance (pass one to make a run
   * reproducible).
   */
  seed?: number | undefined;
}

/**
 * Frequency-aware admission in front of a segmented LRU (W-TinyLFU).
 *
 * @example One-time keys do not flush the keys in use
 * ```ts
 * import { MemoryStore, TinyLfuPolicy } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * // By name: `policy: "tinylfu"`. A fixed seed makes the run reproducible; the default seed is
 * // random, so which keys collide in the frequency sketch cannot be planned.
 * const store = new MemoryStore({
 *   maxEntries: 100,
 *   policy: (capacity, limit) => new TinyLfuPolicy(capacity, { limit, seed: 1 }),
 * });
 * for (let i = 0; i < 50; i++) store.set(`hot${i}`, i);
 * for (let i = 0; i < 50; i++) store.get(`hot${i}`);
 * for (let i = 0; i < 1000; i++) store.set(`scan${i}`, i);
 * assert.deepEqual([store.has("hot0"), store.has("hot49")], [true, true]);
 * ```
 */
export class TinyLfuPolicy implements EvictionPolicy {
  #queues: _Queues;
  #hashes: Int32Array;
  #spreads: Int32Array;
  #sketch: _FrequencySketch;
  #window: number;
  #seed: number;

  /**
   * Creates an empty policy.
   *
   * @param capacity The initial number of slots.
   * @param options See {@linkcode TinyLfuOptions}.
   */
  constructor(capacity: number, options: TinyLfuOptions = {}) {
    checkOptionNames("TinyLfuPolicy", options, ["window", "limit", "seed"]);
    const window = options.window ?? 0.01;
    if (!(window >= 0 && window <= MAX_WINDOW)) {
      throw new RangeError(
        `Cannot create tinylfu policy: window must be in [0, ${MAX_WINDOW}], received ${window}`,
      );
    }
    const seed = options.seed ?? crypto.getRandomValues(new Int32Array(1))[0]!;
    if (!Number.isInteger(seed)) {
      throw new TypeError(
        `Cannot create tinylfu policy: seed must be an integer, received ${seed}`,
      );
    }
    this.#seed = seed | 0;
    this.#window = window;
    this.#queues = new _Queues(3, capacity);
    this.#hashes = new Int32Array(capacity);
    this.#spreads = new Int32Array(capacity);
    this.#sketch = new _FrequencySketch(options.limit ?? capacity);
  }

  /** The window's share of the entries. */
  get window(): number {
    return this.#window;
  }

  resize(capacity: number): void {
    this.#queues.resize(capacity);
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const spreads = new Int32Array(capacity);
    spreads.set(this.#spreads);
    this.#spreads = spreads;
    this.#sketch.grow(capacity);
  }

  insert(slot: number, key: string): void {
    const hash = _hashKey(key, this.#seed);
    this.#hashes[slot] = hash;
    this.#spreads[slot] = _FrequencySketch.spreadOf(hash);
    this.#sketch.increment(hash);
    this.#queues.push(WINDOW, slot);
  }

  access(slot: number): void {
    this.#sketch.incrementSeen(this.#hashes[slot]!, this.#spreads[slot]!);
    const queues = this.#queues;
    const queue = (queues.owner[slot]! & QUEUE_MASK) - 1;
    if (queue === PROBATION) {
      // Promoted; the protected segment is cut back to its share lazily, in victim().
      queues.unlink(slot);
      queues.push(PROTECTED, slot);
    } else {
      queues.move(queue, slot);
    }
  }

  update(slot: number): void {
    this.access(slot);
  }

  remove(slot: number): void {
    this.#queues.unlink(slot);
  }

  victim(): number {
    const queues = this.#queues;
    const size = queues.size;
    const total = size[WINDOW]! + size[PROBATION]! + size[PROTECTED]!;
    // The store calls this once it holds one entry too many.
    const windowTarget = Math.max(1, Math.round(this.#window * (total - 1)));
    const mainTarget = total - 1 - windowTarget;
    const protectedTarget = PROTECTED_SHARE * (size[PROBATION]! + size[PROTECTED]!);
    while (size[PROTECTED]! > protectedTarget) {
      const demoted = queues.tail[PROTECTED]!;
      queues.unlink(demoted);
      queues.push(PROBATION, demoted);
    }
    for (;;) {
      const main = size[PROBATION]! + size[PROTECTED]!;
      if (size[WINDOW]! > windowTarget || main === 0) {
        const candidate = queues.tail[WINDOW]!;
        if (main === 0 && size[WINDOW]! === 1) return candidate;
        if (main < mainTarget || main === 0) {
          // The main space is not full yet: admit for free.
          queues.unlink(candidate);
          queues.push(PROBATION, candidate);
          continue;
        }
        const victim = this.#mainVictim();
        const sketch = this.#sketch;
        if (sketch.frequency(this.#hashes[candidate]!) > sketch.frequency(this.#hashes[victim]!)) {
          queues.unlink(candidate);
          queues.push(PROBATION, candidate);
          return victim;
        }
        return candidate;
      }
      return this.#mainVictim();
    }
  }

  clear(): void {
    this.#queues.clear();
    this.#sketch.clear();
  }

  #mainVictim(): number {
    const queues = this.#queues;
    const victim = queues.tail[PROBATION]!;
    if (victim !== NONE) return victim;
    return queues.tail[PROTECTED]!;
  }
}
