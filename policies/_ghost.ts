/**
 * The "ghost" queue of S3-FIFO: remembers the hashes of recently evicted keys
 * (not their values) in insertion order, and forgets the oldest.
 *
 * It is a direct-mapped table of 32-bit words, 1.75 per remembered key: a
 * key's hash picks a word (by multiplying, so the table need not be a power of
 * two), which holds a 16-bit fingerprint of the hash beside a 16-bit stamp,
 * the time it was added in units of about a 1 024th of the table's size in
 * adds. Adding overwrites whatever shared the word, and a hash counts as
 * remembered while it is among the last `limit` added (to within one unit).
 * Now and then a collision forgets a key early — the price of O(1) without a
 * `Map`. Stamps wrap after 65 536 units (64 times the table's size in adds);
 * so that no word can outlive that and look recent again, every add also
 * clears the next word of a rotating cursor if it is over half that old. A
 * false match needs an equal fingerprint in the same word (1 in 65 535).
 *
 * 7 bytes per key (issue 14: memory per entry). It was two words of (hash,
 * 32-bit sequence number) per key, rounded up to a power of two (16.8–21
 * bytes per entry); before that 48 bytes per key. The share of words per key
 * decides how many keys a collision forgets early, which moves hit ratios by
 * up to 8 points on loops either way; 1.75 is the smallest share within 0.3
 * point of the two-per-key table on every trace of `bench/hit_ratio.ts`, and
 * four-way buckets that forget the oldest (nearer a true FIFO) lost up to 3
 * points on loops just over the cache size (docs/benchmarks.md).
 *
 * @module
 */

/** Words per remembered key. */
const WORDS_PER_KEY = 1.75;
/** Time is counted in units of about a 1 024th of the table's size in adds. */
const UNITS_PER_TABLE = 1024;

/** Remembers recent key hashes; see the module doc. */
export class _Ghost {
  #words: Int32Array;
  /** Adds per unit of time. */
  #unit: number;
  /** The current time in units, modulo 2¹⁶ (a word's low 16 bits). */
  #now = 0;
  /** Adds until the time moves on. */
  #countdown: number;
  /** The next word to check for age. */
  #cursor = 0;

  /** Creates an empty ghost for up to about `capacity` hashes. */
  constructor(capacity: number) {
    this.#words = new Int32Array(Math.max(1, Math.ceil(WORDS_PER_KEY * capacity)));
    this.#unit = this.#countdown = Math.ceil(this.#words.length / UNITS_PER_TABLE);
  }

  /** Lets it hold up to about `capacity` hashes (forgets everything when it grows). */
  resize(capacity: number): void {
    if (Math.ceil(WORDS_PER_KEY * capacity) <= this.#words.length) return;
    const fresh = new _Ghost(capacity);
    this.#words = fresh.#words;
    this.#unit = this.#countdown = fresh.#unit;
    this.#now = this.#cursor = 0;
  }

  /** The word of `hash` (30 bits): `hash × words / 2³⁰`, exact in a double. */
  #at(hash: number): number {
    return (hash * this.#words.length) / 1073741824 | 0;
  }

  /** Remembers `hash`. */
  add(hash: number): void {
    const words = this.#words;
    words[this.#at(hash)] = (_fingerprint(hash) << 16) | this.#now;
    // The cursor goes round every `words.length` adds, 1 024 units: long before a stamp wraps.
    const cursor = this.#cursor;
    if (((this.#now - words[cursor]!) & 0xffff) >= 0x8000) words[cursor] = 0;
    this.#cursor = cursor + 1 === words.length ? 0 : cursor + 1;
    if (--this.#countdown === 0) {
      this.#countdown = this.#unit;
      this.#now = (this.#now + 1) & 0xffff;
    }
  }

  /** Whether `hash` is among the last `limit` added; forgets it if so. */
  take(hash: number, limit: number): boolean {
    const at = this.#at(hash);
    const word = this.#words[at]!;
    if (word === 0 || word >>> 16 !== _fingerprint(hash)) return false;
    this.#words[at] = 0;
    // Units elapsed since it was added (modulo 2¹⁶), against the limit in units.
    return ((this.#now - word) & 0xffff) <= Math.ceil(limit / this.#unit);
  }

  /** Forgets everything. */
  clear(): void {
    this.#words.fill(0);
    this.#now = this.#cursor = 0;
    this.#countdown = this.#unit;
  }
}

/**
 * A 16-bit fingerprint of a 30-bit hash, never 0 (an empty word is 0), drawn from all its bits
 * (the word index is drawn from the high ones).
 */
function _fingerprint(hash: number): number {
  return (Math.imul(hash, 0x9e3779b1) >>> 16) || 1;
}
