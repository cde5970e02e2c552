/**
 * The plug-in interface between `MemoryStore` and an eviction policy, and the
 * registry of policies by name.
 *
 * The store owns the entries and gives each a slot number (a small integer,
 * reused after removal); a policy only orders slots. It is told of every
 * insert, hit, overwrite and removal, and asked for a victim when the store is
 * over its bound. Each call must be O(1) (amortised).
 *
 * @module
 */
import { LruPolicy } from "./lru.ts";
import { FifoPolicy } from "./fifo.ts";
import { LifoPolicy } from "./lifo.ts";
import { MruPolicy } from "./mru.ts";
import { LfuPolicy } from "./lfu.ts";
import { RandomPolicy } from "./random.ts";
import { S3FifoPolicy } from "./s3fifo.ts";
import { TinyLfuPolicy } from "./tinylfu.ts";
import { AdaptiveTinyLfuPolicy } from "./adaptive.ts";

/**
 * Orders the slots of a `MemoryStore` for eviction.
 *
 * @example A FIFO policy: evict in insertion order, ignore hits
 * ```ts
 * import { type EvictionPolicy, MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * class Fifo implements EvictionPolicy {
 *   #queue: number[] = [];
 *   #live = new Set<number>();
 *   resize(_capacity: number) {}
 *   insert(slot: number) { this.#queue.push(slot); this.#live.add(slot); }
 *   access(_slot: number) {}
 *   update(_slot: number) {}
 *   remove(slot: number) { this.#live.delete(slot); }
 *   victim() {
 *     for (;;) {
 *       const slot = this.#queue.shift()!;
 *       if (this.#live.has(slot)) return slot;
 *     }
 *   }
 *   clear() { this.#queue = []; this.#live.clear(); }
 * }
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: () => new Fifo() });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.set("c", 3);
 * assert.deepEqual([store.has("a"), store.has("b"), store.has("c")], [false, true, true]);
 * ```
 */
export interface EvictionPolicy {
  /** Makes room for slots `0 … capacity - 1` (capacity only grows). */
  resize(capacity: number): void;
  /** A new entry was stored in `slot`; `key` is given for policies that remember keys (ghost queues). */
  insert(slot: number, key: string): void;
  /** The entry in `slot` was read. */
  access(slot: number): void;
  /** The entry in `slot` was overwritten with a new value. */
  update(slot: number): void;
  /** The entry in `slot` is gone (deleted, expired or evicted); forget the slot. */
  remove(slot: number): void;
  /** The slot to evict next; only called while at least one slot is live. */
  victim(): number;
  /** Every slot is gone. */
  clear(): void;
}

/**
 * Creates a policy for a store whose slot capacity starts at `capacity`. A store bounded by
 * `maxEntries` also passes `limit`, the most slots it will ever use (`maxEntries + 1`), so a
 * policy can size what it learns for that from the start and lose nothing when the store grows.
 */
export type PolicyFactory = (capacity: number, limit?: number) => EvictionPolicy;

/** Policies selectable by name in `MemoryStore`/`MemoryCache`'s `policy` option. */
export const POLICIES: Record<string, PolicyFactory> = {
  lru: (capacity) => new LruPolicy(capacity),
  lfu: (capacity) => new LfuPolicy(capacity),
  fifo: (capacity) => new FifoPolicy(capacity),
  lifo: (capacity) => new LifoPolicy(capacity),
  mru: (capacity) => new MruPolicy(capacity),
  random: (capacity) => new RandomPolicy(capacity),
  s3fifo: (capacity) => new S3FifoPolicy(capacity),
  tinylfu: (capacity, limit) => new TinyLfuPolicy(capacity, { limit }),
  adaptive: (capacity, limit) => new AdaptiveTinyLfuPolicy(capacity, limit),
};

/** The names accepted by the `policy` option. */
export type PolicyName =
  | "lru"
  | "lfu"
  | "fifo"
  | "lifo"
  | "mru"
  | "random"
  | "s3fifo"
  | "tinylfu"
  | "adaptive";

/** The policy used when none is named. */
export const DEFAULT_POLICY: PolicyName = "adaptive";
