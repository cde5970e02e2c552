/**
 * Random replacement (cacheout's RR): the victim is drawn uniformly from the
 * live entries by a seeded generator, so a run is reproducible.
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { NONE } from "./_queues.ts";
import { checkOptionNames } from "../cache.ts";

/** Options of {@linkcode RandomPolicy}. */
export interface RandomPolicyOptions {
  /** Seed of the generator (a 32-bit integer). Default `0x2545f491`. */
  seed?: number | undefined;
}

/**
 * Evicts an entry chosen at random — never the one just written while another
 * entry is there. The generator (mulberry32) is seeded, so the same sequence
 * of operations evicts the same entries.
 *
 * @example Pick a seed
 * ```ts
 * import { MemoryStore, RandomPolicy } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({
 *   maxEntries: 100,
 *   policy: (capacity) => new RandomPolicy(capacity, { seed: 42 }),
 * });
 * for (let i = 0; i < 1000; i++) store.set(`k${i}`, i);
 * assert.deepEqual([store.size, store.has("k999")], [100, true]);
 * ```
 */
export class RandomPolicy implements EvictionPolicy {
  // The live slots, densely packed, and each slot's position among them.
  #live: Int32Array;
  #position: Int32Array;
  #count = 0;
  #current = NONE;
  #seed: number;
  #state: number;

  /**
   * Creates an empty policy.
   *
   * @param capacity The initial number of slots.
   * @param options See {@linkcode RandomPolicyOptions}.
   */
  constructor(capacity: number, options: RandomPolicyOptions = {}) {
    checkOptionNames("RandomPolicy", options, ["seed"]);
    const seed = options.seed ?? 0x2545f491;
    if (!Number.isInteger(seed)) {
      throw new TypeError(`Cannot create random policy: seed must be an integer, received ${seed}`);
    }
    this.#seed = this.#state = seed | 0;
    this.#live = new Int32Array(capacity);
    this.#position = new Int32Array(capacity);
  }

  resize(capacity: number): void {
    const live = new Int32Array(capacity);
    live.set(this.#live);
    this.#live = live;
    const position = new Int32Array(capacity);
    position.set(this.#position);
    this.#position = position;
  }

  insert(slot: number): void {
    this.#position[slot] = this.#count;
    this.#live[this.#count++] = slot;
    this.#current = slot;
  }

  access(_slot: number): void {}

  update(slot: number): void {
    this.#current = slot;
  }

  remove(slot: number): void {
    const at = this.#position[slot]!;
    const last = this.#live[--this.#count]!;
    this.#live[at] = last;
    this.#position[last] = at;
    if (slot === this.#current) this.#current = NONE;
  }

  victim(): number {
    if (this.#count === 1) return this.#live[0]!;
    if (this.#current === NONE) return this.#live[this.#draw(this.#count)]!;
    // Draw among the others: skip over the current slot's position.
    const at = this.#draw(this.#count - 1);
    return this.#live[at >= this.#position[this.#current]! ? at + 1 : at]!;
  }

  clear(): void {
    this.#count = 0;
    this.#current = NONE;
    this.#state = this.#seed;
  }

  /** A uniform integer in `[0, n)` from mulberry32. */
  #draw(n: number): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  }
}
