/**
 * Last in, first out: the newest entry leaves first — except the one being
 * written right now, which would make the write pointless (cacheout evicts
 * before it inserts, to the same effect).
 *
 * @module
 */
import { QueuePolicy } from "./queue_policy.ts";

/**
 * Evicts the most recently inserted entry other than the one just written.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "lifo" });
 * store.set("a", 1); store.set("b", 2); store.set("c", 3);
 * assert.deepEqual([store.has("a"), store.has("b"), store.has("c")], [true, false, true]);
 * ```
 */
export class LifoPolicy extends QueuePolicy {
  /** The newest insert. */
  victim(): number {
    return this._newest();
  }
}
