/**
 * Intrusive doubly linked queues of slots kept in typed arrays, shared by the
 * list-based policies. A slot sits in at most one queue at a time; every
 * operation is O(1).
 *
 * @module
 */

/** No slot. */
export const NONE = -1;
/** The bits of `owner` that name the queue. */
export const QUEUE_MASK = 3;

/** A fixed number of queues over one set of link arrays; the head is the newest end. */
export class _Queues {
  /** The next slot towards the tail, per slot. */
  next: Int32Array;
  /** The previous slot towards the head, per slot. */
  prev: Int32Array;
  /**
   * The queue a slot is in, plus one (0 = in none), in the low two bits; the upper six bits belong
   * to the policy (the W-TinyLFU engine keeps a slot's pending uses there) and are kept by every
   * queue operation.
   */
  owner: Uint8Array;
  /** The newest slot of each queue. */
  readonly head: Int32Array;
  /** The oldest slot of each queue. */
  readonly tail: Int32Array;
  /** How many slots each queue holds. */
  readonly size: Int32Array;

  /** Creates `count` (at most 3) empty queues over `capacity` slots. */
  constructor(count: number, capacity: number) {
    if (count > QUEUE_MASK) throw new RangeError(`_Queues: at most ${QUEUE_MASK} queues`);
    this.next = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.owner = new Uint8Array(capacity);
    this.head = new Int32Array(count).fill(NONE);
    this.tail = new Int32Array(count).fill(NONE);
    this.size = new Int32Array(count);
  }

  /** Makes room for slots `0 … capacity - 1`. */
  resize(capacity: number): void {
    const next = new Int32Array(capacity);
    next.set(this.next);
    this.next = next;
    const prev = new Int32Array(capacity);
    prev.set(this.prev);
    this.prev = prev;
    const owner = new Uint8Array(capacity);
    owner.set(this.owner);
    this.owner = owner;
  }

  /** Puts `slot` (in no queue) at the head of queue `q`. */
  push(q: number, slot: number): void {
    const head = this.head[q]!;
    this.owner[slot] = (this.owner[slot]! & ~QUEUE_MASK) | (q + 1);
    this.prev[slot] = NONE;
    this.next[slot] = head;
    if (head !== NONE) this.prev[head] = slot;
    else this.tail[q] = slot;
    this.head[q] = slot;
    this.size[q]!++;
  }

  /** Takes `slot` out of whatever queue holds it (a no-op when none does). */
  unlink(slot: number): void {
    const q = (this.owner[slot]! & QUEUE_MASK) - 1;
    if (q < 0) return;
    const prev = this.prev[slot]!;
    const next = this.next[slot]!;
    if (prev !== NONE) this.next[prev] = next;
    else this.head[q] = next;
    if (next !== NONE) this.prev[next] = prev;
    else this.tail[q] = prev;
    this.owner[slot]! &= ~QUEUE_MASK;
    this.size[q]!--;
  }

  /** Moves `slot` to the head of queue `q`. */
  move(q: number, slot: number): void {
    if (this.head[q] === slot) return;
    this.unlink(slot);
    this.push(q, slot);
  }

  /** Moves `slot`, which queue `q` holds, to its head (`move` without the unlink and push). */
  toHead(q: number, slot: number): void {
    const head = this.head[q]!;
    if (head === slot) return;
    const next = this.next;
    const prev = this.prev;
    const before = prev[slot]!; // not NONE: slot is not the head
    const after = next[slot]!;
    next[before] = after;
    if (after !== NONE) prev[after] = before;
    else this.tail[q] = before;
    prev[slot] = NONE;
    next[slot] = head;
    prev[head] = slot;
    this.head[q] = slot;
  }

  /** Empties every queue. */
  clear(): void {
    this.head.fill(NONE);
    this.tail.fill(NONE);
    this.size.fill(0);
    this.owner.fill(0);
  }
}
