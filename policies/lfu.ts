/**
 * Least frequently used, in O(1) per operation: entries sit in frequency
 * buckets (a list of buckets in ascending frequency, each a list of slots in
 * the order they reached it), after K. Shah, A. Mitra and D. Matani, "An O(1)
 * algorithm for implementing the LFU cache eviction scheme" (2010). The victim
 * is the oldest slot of the lowest bucket: the least used, ties broken by age
 * — except the entry being written right now, which always has the lowest
 * count (cacheout evicts before it inserts, to the same effect).
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { NONE } from "./_queues.ts";

/**
 * Evicts the entry read or written the fewest times; among equals, the one
 * that has held that count longest. The entry just written is never the victim
 * while another entry is there.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "lfu" });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.get("a");
 * store.get("b"); store.set("c", 3);
 * assert.deepEqual([store.has("a"), store.has("b"), store.has("c")], [true, false, true]);
 * ```
 */
export class LfuPolicy implements EvictionPolicy {
  // Per slot: its bucket and its neighbours within the bucket.
  #bucketOf: Int32Array;
  #next: Int32Array;
  #prev: Int32Array;
  // Per bucket: its count, first/last slot, neighbours in the bucket list.
  #count: Float64Array;
  #first: Int32Array;
  #last: Int32Array;
  #up: Int32Array;
  #down: Int32Array;
  #freeBuckets: number[] = [];
  #buckets = 0;
  #lowest = NONE;
  #current = NONE;

  /**
   * Creates an empty policy.
   *
   * @param capacity The initial number of slots.
   */
  constructor(capacity: number) {
    this.#bucketOf = new Int32Array(capacity);
    this.#next = new Int32Array(capacity);
    this.#prev = new Int32Array(capacity);
    // There is never more than one bucket per live slot, plus one while a slot moves up.
    this.#count = new Float64Array(capacity + 1);
    this.#first = new Int32Array(capacity + 1);
    this.#last = new Int32Array(capacity + 1);
    this.#up = new Int32Array(capacity + 1);
    this.#down = new Int32Array(capacity + 1);
  }

  resize(capacity: number): void {
    const grow = <A extends Int32Array | Float64Array>(
      old: A,
      make: (n: number) => A,
      n: number,
    ) => {
      const array = make(n);
      array.set(old);
      return array;
    };
    const ints = (n: number) => new Int32Array(n);
    this.#bucketOf = grow(this.#bucketOf, ints, capacity);
    this.#next = grow(this.#next, ints, capacity);
    this.#prev = grow(this.#prev, ints, capacity);
    this.#count = grow(this.#count, (n) => new Float64Array(n), capacity + 1);
    this.#first = grow(this.#first, ints, capacity + 1);
    this.#last = grow(this.#last, ints, capacity + 1);
    this.#up = grow(this.#up, ints, capacity + 1);
    this.#down = grow(this.#down, ints, capacity + 1);
  }

  insert(slot: number): void {
    let bucket = this.#lowest;
    if (bucket === NONE || this.#count[bucket] !== 1) {
      bucket = this.#newBucket(1, NONE, bucket);
    }
    this.#append(bucket, slot);
    this.#current = slot;
  }

  access(slot: number): void {
    const from = this.#bucketOf[slot]!;
    const count = this.#count[from]! + 1;
    let to = this.#up[from]!;
    if (to === NONE || this.#count[to] !== count) to = this.#newBucket(count, from, to);
    this.#detach(slot);
    this.#append(to, slot);
  }

  update(slot: number): void {
    this.access(slot);
    this.#current = slot;
  }

  remove(slot: number): void {
    this.#detach(slot);
    if (slot === this.#current) this.#current = NONE;
  }

  victim(): number {
    const first = this.#first[this.#lowest]!;
    if (first !== this.#current) return first;
    // The entry being written has the lowest count; evicting it would undo the write.
    const next = this.#next[first]!;
    if (next !== NONE) return next;
    const up = this.#up[this.#lowest]!;
    return up === NONE ? first : this.#first[up]!;
  }

  clear(): void {
    this.#freeBuckets = [];
    this.#buckets = 0;
    this.#lowest = NONE;
    this.#current = NONE;
  }

  /** A new empty bucket for `count`, linked between `down` and `up`. */
  #newBucket(count: number, down: number, up: number): number {
    const bucket = this.#freeBuckets.pop() ?? this.#buckets++;
    this.#count[bucket] = count;
    this.#first[bucket] = this.#last[bucket] = NONE;
    this.#down[bucket] = down;
    this.#up[bucket] = up;
    if (down !== NONE) this.#up[down] = bucket;
    else this.#lowest = bucket;
    if (up !== NONE) this.#down[up] = bucket;
    return bucket;
  }

  #append(bucket: number, slot: number): void {
    const last = this.#last[bucket]!;
    this.#bucketOf[slot] = bucket;
    this.#prev[slot] = last;
    this.#next[slot] = NONE;
    if (last !== NONE) this.#next[last] = slot;
    else this.#first[bucket] = slot;
    this.#last[bucket] = slot;
  }

  /** Takes `slot` out of its bucket, dropping the bucket when it empties. */
  #detach(slot: number): void {
    const bucket = this.#bucketOf[slot]!;
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev !== NONE) this.#next[prev] = next;
    else this.#first[bucket] = next;
    if (next !== NONE) this.#prev[next] = prev;
    else this.#last[bucket] = prev;
    if (this.#first[bucket] !== NONE) return;
    const down = this.#down[bucket]!;
    const up = this.#up[bucket]!;
    if (down !== NONE) this.#up[down] = up;
    else this.#lowest = up;
    if (up !== NONE) this.#down[up] = down;
    this.#freeBuckets.push(bucket);
  }
}
