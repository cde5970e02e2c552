/**
 * First in, first out: entries leave in the order they were inserted; reads
 * and overwrites do not change the order (an entry overwritten with a value
 * that pushes the store over `maxBytes` is spared in that one eviction).
 *
 * @module
 */
import { QueuePolicy } from "./queue_policy.ts";

/**
 * Evicts the entry that was inserted first, however often it is read.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "fifo" });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.set("c", 3);
 * assert.deepEqual([store.has("a"), store.has("b")], [false, true]);
 * ```
 */
export class FifoPolicy extends QueuePolicy {
  /** The oldest insert, whatever was read since. */
  victim(): number {
    return this._oldest();
  }
}
