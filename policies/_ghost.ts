/**
 * The "ghost" queue of S3-FIFO: remembers the hashes of recently evicted keys
 * (not their values) in insertion order, and forgets the oldest.
 *
 * It is a direct-mapped table of (hash, sequence number) pairs, two slots per
 * remembered key (the power of two at or above 2 × capacity): adding
 * overwrites whatever shared the slot, and a hash counts as remembered while
 * it is among the last `limit` added. Now and then a collision forgets a key
 * early — the price of O(1) without a `Map`. Sequence numbers are 32-bit and
 * compared modulo 2³², so they may wrap. 8 bytes per slot, 16 per key: it was
 * 4 slots of an int32 and a float64, 48 bytes per key (issue 14: s3fifo held
 * 2.2× lru-cache's memory per entry); s3fifo's hit ratios on the four given
 * traces moved by −0.13 … +5.3 points (docs/benchmarks.md).
 *
 * @module
 */

/** Remembers recent key hashes; see the module doc. */
export class _Ghost {
  #hashes: Int32Array;
  #seqs: Int32Array;
  #mask: number;
  #seq = 1;

  /** Creates an empty ghost for up to about `capacity` hashes. */
  constructor(capacity: number) {
    let size = 16;
    while (size < 2 * capacity) size *= 2;
    this.#hashes = new Int32Array(size);
    this.#seqs = new Int32Array(size);
    this.#mask = size - 1;
  }

  /** Lets it hold up to about `capacity` hashes (forgets everything when it grows). */
  resize(capacity: number): void {
    if (2 * capacity <= this.#mask + 1) return;
    const fresh = new _Ghost(capacity);
    this.#hashes = fresh.#hashes;
    this.#seqs = fresh.#seqs;
    this.#mask = fresh.#mask;
  }

  /** Remembers `hash`. */
  add(hash: number): void {
    const at = hash & this.#mask;
    this.#hashes[at] = hash;
    // 0 marks an empty slot: skip it when the counter wraps.
    this.#seqs[at] = this.#seq;
    this.#seq = (this.#seq + 1) | 0 || 1;
  }

  /** Whether `hash` is among the last `limit` added; forgets it if so. */
  take(hash: number, limit: number): boolean {
    const at = hash & this.#mask;
    if (this.#hashes[at] !== hash || this.#seqs[at] === 0) return false;
    // How many were added since, modulo 2³².
    const recent = ((this.#seq - this.#seqs[at]!) >>> 0) <= limit;
    this.#seqs[at] = 0;
    return recent;
  }

  /** Forgets everything. */
  clear(): void {
    this.#seqs.fill(0);
  }
}
