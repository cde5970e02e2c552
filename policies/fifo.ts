/**
 * First in, first out: entries leave in the order they were inserted; reads
 * and overwrites do not change the order (an entry overwritten with a value
 * that pushes the store over `maxBytes` is spared in that one eviction).
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues, NONE } from "./_queues.ts";

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
  #current = NONE;

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
    this.#current = slot;
  }

  access(_slot: number): void {}

  update(slot: number): void {
    this.#current = slot;
  }

  remove(slot: number): void {
    this.#queue.unlink(slot);
    if (slot === this.#current) this.#current = NONE;
  }

  victim(): number {
    const tail = this.#queue.tail[0]!;
    if (tail !== this.#current) return tail;
    // An overwrite that grew the oldest entry past maxBytes: keep what was just written.
    const prev = this.#queue.prev[tail]!;
    return prev === NONE ? tail : prev;
  }

  clear(): void {
    this.#queue.clear();
    this.#current = NONE;
  }
}
