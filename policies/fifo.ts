/**
 * First in, first out: entries leave in the order they were inserted; reads
 * and overwrites do not change the order.
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues } from "./_queues.ts";

/**
 * Evicts the entry that was inserted first, however often it is read.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "fifo" });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.set("c", 3);
 * console.log(store.has("a"), store.has("b")); // false true
 * ```
 */
export class FifoPolicy implements EvictionPolicy {
  #queue: _Queues;

  /**
   * Creates an empty queue.
   *
   * @param capacity The initial number of slots.
   */
  constructor(capacity: number) {
    this.#queue = new _Queues(1, capacity);
  }

  resize(capacity: number): void {
    this.#queue.resize(capacity);
  }

  insert(slot: number): void {
    this.#queue.push(0, slot);
  }

  access(_slot: number): void {}

  update(_slot: number): void {}

  remove(slot: number): void {
    this.#queue.unlink(slot);
  }

  victim(): number {
    return this.#queue.tail[0]!;
  }

  clear(): void {
    this.#queue.clear();
  }
}
