/**
 * Most recently used: the entry read or written last leaves first — except
 * the one being written right now. Suits cyclic scans larger than the cache,
 * where the oldest entry is the next one needed.
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues, NONE } from "./_queues.ts";

/**
 * Evicts the most recently used entry other than the one just written.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "mru" });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.set("c", 3);
 * console.log(store.has("a"), store.has("b"), store.has("c")); // false true true
 * ```
 */
export class MruPolicy implements EvictionPolicy {
  #queue: _Queues;
  #current = NONE;

  /**
   * Creates an empty recency list.
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

  access(slot: number): void {
    this.#queue.move(0, slot);
  }

  update(slot: number): void {
    this.#queue.move(0, slot);
    this.#current = slot;
  }

  remove(slot: number): void {
    this.#queue.unlink(slot);
    if (slot === this.#current) this.#current = NONE;
  }

  victim(): number {
    const head = this.#queue.head[0]!;
    if (head !== this.#current) return head;
    const next = this.#queue.next[head]!;
    return next === NONE ? head : next;
  }

  clear(): void {
    this.#queue.clear();
    this.#current = NONE;
  }
}
