/**
 * The "ghost" queue of S3-FIFO: remembers the hashes of recently evicted keys
 * (not their values) in insertion order, and forgets the oldest.
 *
 * It is a direct-mapped table of (hash, sequence number) pairs, a few slots
 * per remembered key: adding overwrites whatever shared the slot, and a hash
 * counts as remembered while it is among the last `limit` added. Rarely, a
 * collision forgets a key early — the price of O(1) without a `Map`.
 *
 * @module
 */

/** Remembers recent key hashes; see the module doc. */
export class _Ghost {
  #hashes: Int32Array;
  #seqs: Float64Array;
  #mask: number;
  #seq = 1;

  /** Creates an empty ghost for up to about `capacity` hashes. */
  constructor(capacity: number) {
    let size = 16;
    while (size < 4 * capacity) size *= 2;
    this.#hashes = new Int32Array(size);
    this.#seqs = new Float64Array(size);
    this.#mask = size - 1;
  }

  /** Lets it hold up to about `capacity` hashes (forgets everything when it grows). */
  resize(capacity: number): void {
    if (4 * capacity <= this.#mask + 1) return;
    const fresh = new _Ghost(capacity);
    this.#hashes = fresh.#hashes;
    this.#seqs = fresh.#seqs;
    this.#mask = fresh.#mask;
  }

  /** Remembers `hash`. */
  add(hash: number): void {
    const at = hash & this.#mask;
    this.#hashes[at] = hash;
    this.#seqs[at] = this.#seq++;
  }

  /** Whether `hash` is among the last `limit` added; forgets it if so. */
  take(hash: number, limit: number): boolean {
    const at = hash & this.#mask;
    if (this.#hashes[at] !== hash || this.#seqs[at] === 0) return false;
    const recent = this.#seqs[at]! >= this.#seq - limit;
    this.#seqs[at] = 0;
    return recent;
  }

  /** Forgets everything. */
  clear(): void {
    this.#seqs.fill(0);
  }
}
