/**
 * Most recently used: the entry read or written last leaves first — except
 * the one being written right now. Suits cyclic scans larger than the cache,
 * where the oldest entry is the next one needed.
 *
 * @module
 */
import { QueuePolicy } from "./queue_policy.ts";

/**
 * Evicts the most recently used entry other than the one just written.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "mru" });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.set("c", 3);
 * assert.deepEqual([store.has("a"), store.has("b"), store.has("c")], [false, true, true]);
 * ```
 */
export class MruPolicy extends QueuePolicy {
  /** A read makes the entry the most recently used. */
  override access(slot: number): void {
    this._touch(slot);
  }

  /** An overwrite is a use too. */
  override update(slot: number): void {
    this._touch(slot);
    super.update(slot);
  }

  /** The most recently used entry. */
  victim(): number {
    return this._newest();
  }
}
