/**
 * Least recently used: a doubly linked list of slots kept in typed arrays;
 * a hit moves its slot to the head, the victim is the tail.
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";

const NONE = -1;

/**
 * Evicts the entry that was read or written least recently.
 *
 * @example Use it by name
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 2, policy: "lru" });
 * store.set("a", 1); store.set("b", 2); store.get("a"); store.set("c", 3);
 * assert.deepEqual([store.has("a"), store.has("b")], [true, false]);
 * ```
 */
export class LruPolicy implements EvictionPolicy {
  #next: Int32Array;
  #prev: Int32Array;
  #head = NONE;
  #tail = NONE;

  /**
   * Creates an empty list.
   *
   * @param capacity The initial number of slots.
   */
  constructor(capacity: number) {
    this.#next = new Int32Array(capacity);
    this.#prev = new Int32Array(capacity);
  }

  resize(capacity: number): void {
    const next = new Int32Array(capacity);
    next.set(this.#next);
    this.#next = next;
    const prev = new Int32Array(capacity);
    prev.set(this.#prev);
    this.#prev = prev;
  }

  insert(slot: number): void {
    this.#prev[slot] = NONE;
    this.#next[slot] = this.#head;
    if (this.#head !== NONE) this.#prev[this.#head] = slot;
    else this.#tail = slot;
    this.#head = slot;
  }

  access(slot: number): void {
    const head = this.#head;
    if (slot === head) return;
    const next = this.#next;
    const prev = this.#prev;
    // slot is not the head, so it has a predecessor
    const before = prev[slot]!;
    const after = next[slot]!;
    next[before] = after;
    if (after !== NONE) prev[after] = before;
    else this.#tail = before;
    prev[slot] = NONE;
    next[slot] = head;
    prev[head] = slot;
    this.#head = slot;
  }

  update(slot: number): void {
    this.access(slot);
  }

  remove(slot: number): void {
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev !== NONE) this.#next[prev] = next;
    else this.#head = next;
    if (next !== NONE) this.#prev[next] = prev;
    else this.#tail = prev;
  }

  victim(): number {
    return this.#tail;
  }

  clear(): void {
    this.#head = this.#tail = NONE;
  }
}
