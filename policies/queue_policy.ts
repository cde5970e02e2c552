/**
 * {@linkcode QueuePolicy}: the shared base of the policies that keep every
 * entry in one ordered queue (FIFO, LIFO, MRU).
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _Queues, NONE } from "./_queues.ts";

/**
 * A policy over one queue of slots, newest at the head. Subclasses choose the
 * victim end and whether reads reorder. The slot written last is remembered:
 * when that very write pushed the store over `maxBytes`, it is spared in that
 * eviction (unless it is the only entry).
 *
 * @example A policy that evicts the oldest write, like FIFO
 * ```ts
 * import { MemoryStore, QueuePolicy } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * class OldestFirst extends QueuePolicy {
 *   victim(): number {
 *     return this._oldest();
 *   }
 * }
 * const store = new MemoryStore({ maxEntries: 1, policy: (n) => new OldestFirst(n) });
 * store.set("a", 1); store.set("b", 2);
 * assert.deepEqual([store.has("a"), store.has("b")], [false, true]);
 * ```
 */
export abstract class QueuePolicy implements EvictionPolicy {
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

  /** Makes room for more slots. */
  resize(capacity: number): void {
    this.#queue.resize(capacity);
  }

  /** Puts a new slot at the newest end. */
  insert(slot: number, _key?: string): void {
    this.#queue.push(0, slot);
    this.#current = slot;
  }

  /** A read: no reordering unless a subclass says so. */
  access(_slot: number): void {}

  /** An overwrite: remembered, so an entry that outgrew `maxBytes` is not its own victim. */
  update(slot: number): void {
    this.#current = slot;
  }

  /** Forgets a slot. */
  remove(slot: number): void {
    this.#queue.unlink(slot);
    if (slot === this.#current) this.#current = NONE;
  }

  /** The slot to evict next. */
  abstract victim(): number;

  /** Forgets every slot. */
  clear(): void {
    this.#queue.clear();
    this.#current = NONE;
  }

  /** Moves `slot` to the newest end. */
  protected _touch(slot: number): void {
    this.#queue.move(0, slot);
  }

  /** The oldest slot, or the next oldest when the oldest is the one just written. */
  protected _oldest(): number {
    const tail = this.#queue.tail[0]!;
    if (tail !== this.#current) return tail;
    const prev = this.#queue.prev[tail]!;
    return prev === NONE ? tail : prev;
  }

  /** The newest slot, or the next newest when the newest is the one just written. */
  protected _newest(): number {
    const head = this.#queue.head[0]!;
    if (head !== this.#current) return head;
    const next = this.#queue.next[head]!;
    return next === NONE ? head : next;
  }
}
