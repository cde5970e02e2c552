/**
 * S3-FIFO, after Juncheng Yang, Yazhuo Zhang, Ziyue Qiu, Yao Yue and K. V.
 * Rashmi, "FIFO queues are all you need for cache eviction", SOSP 2023.
 *
 * Three FIFO queues: a small one (10 % of the entries) that new keys enter, a
 * main one for the rest, and a ghost that remembers the keys recently dropped
 * from the small queue (hashes only, as many as the main queue holds). Each
 * entry has a 2-bit use count. Leaving the small queue, an entry read more
 * than once since it arrived moves to the main queue (the paper's `freq > 1`),
 * the others are dropped (into the ghost);
 * leaving the main queue, an entry read since it last went round goes round
 * again with its count lowered. A key found in the ghost enters the main
 * queue directly. One-hit wonders thus pass through the small queue quickly
 * without flushing the main one. Hits only bump a counter: no list moves.
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues, NONE, QUEUE_MASK } from "./_queues.ts";
import { _Ghost } from "./_ghost.ts";
import { _hashKey } from "./_hash.ts";

const SMALL = 0, MAIN = 1;
const MAX_USES = 3;

/** The 2-bit use count of `slot`; four to a byte (issue 14: memory per entry). */
function usesOf(uses: Uint8Array, slot: number): number {
  return (uses[slot >>> 2]! >>> ((slot & 3) << 1)) & 3;
}

/** Adds `delta` (±1) to the use count of `slot`, which must stay within 0 … 3. */
function addUses(uses: Uint8Array, slot: number, delta: number): void {
  uses[slot >>> 2]! += delta << ((slot & 3) << 1);
}

/** Sets the use count of `slot` to 0. */
function resetUses(uses: Uint8Array, slot: number): void {
  uses[slot >>> 2]! &= ~(3 << ((slot & 3) << 1));
}
/** The small queue's share of the entries, and the ghost's (that of the main queue). */
const SMALL_SHARE = 0.1, GHOST_SHARE = 0.9;

/**
 * Scan-resistant FIFO-based eviction (S3-FIFO).
 *
 * @example Keys read more than once are not flushed by one-time keys
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 100, policy: "s3fifo" });
 * for (let i = 0; i < 50; i++) store.set(`hot${i}`, i);
 * // Read twice: the paper's `freq > 1` moves them to the main queue (once is not enough).
 * for (let i = 0; i < 50; i++) store.get(`hot${i}`), store.get(`hot${i}`);
 * for (let i = 0; i < 1000; i++) store.set(`scan${i}`, i);
 * assert.deepEqual([store.has("hot0"), store.has("hot49")], [true, true]);
 * ```
 */
export class S3FifoPolicy implements EvictionPolicy {
  #queues: _Queues;
  #uses: Uint8Array;
  #hashes: Int32Array;
  #ghost: _Ghost;
  #current = NONE;

  /**
   * Creates an empty policy.
   *
   * @param capacity The initial number of slots.
   */
  constructor(capacity: number) {
    this.#queues = new _Queues(2, capacity);
    this.#uses = new Uint8Array((capacity + 3) >>> 2);
    this.#hashes = new Int32Array(capacity);
    this.#ghost = new _Ghost(capacity);
  }

  resize(capacity: number): void {
    this.#queues.resize(capacity);
    const uses = new Uint8Array((capacity + 3) >>> 2);
    uses.set(this.#uses);
    this.#uses = uses;
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    this.#ghost.resize(capacity);
  }

  insert(slot: number, key: string): void {
    const hash = _hashKey(key);
    this.#hashes[slot] = hash;
    resetUses(this.#uses, slot);
    this.#current = slot;
    const queues = this.#queues;
    const entries = queues.size[MAIN]! + queues.size[SMALL]!;
    const seen = this.#ghost.take(hash, Math.ceil(GHOST_SHARE * entries));
    queues.push(seen ? MAIN : SMALL, slot);
  }

  access(slot: number): void {
    if (usesOf(this.#uses, slot) < MAX_USES) addUses(this.#uses, slot, 1);
  }

  update(slot: number): void {
    this.access(slot);
    this.#current = slot;
  }

  remove(slot: number): void {
    this.#queues.unlink(slot);
    if (slot === this.#current) this.#current = NONE;
  }

  victim(): number {
    const queues = this.#queues;
    const uses = this.#uses;
    const current = this.#current;
    const currentQueue = current === NONE ? -1 : (queues.owner[current]! & QUEUE_MASK) - 1;
    const total = queues.size[SMALL]! + queues.size[MAIN]!;
    for (;;) {
      // The entry being written does not count: S3-FIFO evicts before it inserts.
      const small = queues.size[SMALL]! - (currentQueue === SMALL ? 1 : 0);
      const main = queues.size[MAIN]! - (currentQueue === MAIN ? 1 : 0);
      if (small === 0 && main === 0) return current;
      if (small > 0 && (small >= SMALL_SHARE * total || main === 0)) {
        const slot = queues.tail[SMALL]!;
        if (slot === current) {
          // Just overwritten (and grown, under maxBytes): not the victim.
          queues.unlink(slot);
          queues.push(SMALL, slot);
          continue;
        }
        if (usesOf(uses, slot) > 1) {
          queues.unlink(slot);
          queues.push(MAIN, slot);
          resetUses(uses, slot);
          continue;
        }
        this.#ghost.add(this.#hashes[slot]!);
        return slot;
      }
      const slot = queues.tail[MAIN]!;
      if (usesOf(uses, slot) > 0 || slot === current) {
        if (slot !== current) addUses(uses, slot, -1);
        queues.unlink(slot);
        queues.push(MAIN, slot);
        continue;
      }
      return slot;
    }
  }

  clear(): void {
    this.#queues.clear();
    this.#ghost.clear();
    this.#current = NONE;
  }
}
