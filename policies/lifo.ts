/**
 * Last in, first out: the newest entry leaves first — except the one being
 * written right now, which would make the write pointless (cacheout evicts
 * before it inserts, to the same effect).
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues, NONE } from "./_queues.ts";

/**
 * Evicts the most recently inserted entry other than the one just written.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "lifo" });
 * store.set("a", 1); store.set("b", 2); store.set("c", 3);
 * console.log(store.has("a"), store.has("b"), store.has("c")); // true false true
 * ```
 */
export class LifoPolicy implements EvictionPolicy {
  #queue: _Queues;
  #current = NONE;

  /**
   * Creates an empty stack.
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
