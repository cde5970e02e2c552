/**
 * The engine of the W-TinyLFU policies, driven by key hashes: an LRU window
 * in front of a segmented LRU (probation, protected), a frequency sketch that
 * decides which of the window's oldest entry and the main space's victim
 * stays, and a window share that may change at any time (the adaptive policy
 * moves it; the change takes effect one eviction at a time).
 *
 * Admission follows Caffeine's `BoundedLocalCache.admit` in spirit (Ben
 * Manes; cited, not copied): a candidate more frequent than the victim is
 * admitted; one that is not, but is warm (estimate ≥ 6), is admitted at
 * random one time in 1 024, so keys crafted to collide in the sketch cannot
 * lock the main space against newcomers (hash flooding). The random draws
 * come from a generator seeded per instance. (One time in 128, Caffeine's
 * rate, cost 0.8 points on the LIRS loop trace; the hash is seeded too, so
 * collisions cannot be computed in advance anyway.)
 *
 * @module
 */
import { _Queues, NONE, QUEUE_MASK } from "./_queues.ts";
import { _FrequencySketch, _spreadOf } from "./_sketch.ts";

/** Queue numbers. */
export const WINDOW = 0, PROBATION = 1, PROTECTED = 2;
const PROTECTED_SHARE = 0.8;
/**
 * The sketch ages every `AGE × width` = 20 × keys uses. 40 × keys (the fixed policy's) scores
 * 2 points less on P12 at 131 072 entries; 10 × keys (Caffeine's) 1.0 less on P6 at 50 000.
 */
const AGE = 5;
/**
 * From this many keys on (a doorkeeper of 128 KB and more, past the processor's near caches) the
 * sketch keeps a key's two doorkeeper bits in one cache line: a first sighting then costs one
 * cache miss, not two. Smaller sketches keep them independent: in a 100-entry cache the blocked
 * filter's extra false positives let a scan of one-time keys displace a hot key now and then.
 */
const BLOCKED_DOOR_FROM = 32_768;
/** A candidate at least this frequent is warm: admitted at random now and then. */
const WARM = 6;
/** A warm candidate is admitted one time in this many (plus one). */
const RANDOM_MASK = 1023;

/**
 * A slot's byte in `queues.owner` holds, above the queue (two bits): the uses of its key that hits
 * recorded but the sketch's counters do not hold yet (four bits, saturating at 15 like the
 * counters), and a flag bit its policy may set at insert (the adaptive policy marks sampled keys).
 */
const PENDING_ONE = 4, PENDING = 15 * PENDING_ONE, PENDING_SHIFT = 2;
/** The flag bit of a slot's byte (see {@linkcode PENDING}). */
export const FLAG = 64;

/** W-TinyLFU over slots identified by key hashes; see the module doc. */
export class _WindowTinyLfu {
  /** The queues (exposed for tests and the adaptive policy). */
  queues: _Queues;
  /** The key hash of each slot. */
  hashes: Int32Array;
  /** The frequency sketch. */
  sketch: _FrequencySketch;
  /** The window's share of the entries, in `[0, 1]` (1: plain LRU, every entry in the window). */
  window: number;
  #random: number;

  /**
   * @param capacity The initial number of slots.
   * @param keys The number of keys to size the sketch for (the store's bound, when it has one).
   * @param window The window's initial share.
   * @param seed Seeds the random admissions.
   */
  constructor(capacity: number, keys: number, window: number, seed: number) {
    this.queues = new _Queues(3, capacity);
    this.hashes = new Int32Array(capacity);
    this.sketch = new _FrequencySketch(keys, AGE, keys >= BLOCKED_DOOR_FROM);
    this.sketch.beforeAging = () => this.#addPending();
    this.window = window;
    this.#random = seed | 0 || 1;
  }

  /** Makes room for slots `0 … capacity - 1`; the sketch keeps what it learned. */
  resize(capacity: number): void {
    this.queues.resize(capacity);
    const hashes = new Int32Array(capacity);
    hashes.set(this.hashes);
    this.hashes = hashes;
    this.sketch.grow(capacity);
  }

  /** A new entry with key hash `hash` in `slot`. */
  insert(slot: number, hash: number): void {
    this.insertSpread(slot, hash, _spreadOf(hash), 0);
  }

  /**
   * A new entry with key hash `hash` (whose spread is `spread`) in `slot`; `flag` is
   * {@linkcode FLAG} to mark it (returned by every {@linkcode hit} of it) or 0.
   */
  insertSpread(slot: number, hash: number, spread: number, flag: number): void {
    this.hashes[slot] = hash;
    this.queues.owner[slot] = flag;
    this.sketch.incrementSpread(hash, spread);
    this.queues.push(WINDOW, slot);
  }

  /** {@linkcode insert} without recording the use in the sketch (for an engine that never admits). */
  insertUncounted(slot: number, hash: number): void {
    this.hashes[slot] = hash;
    this.queues.owner[slot] = 0;
    this.queues.push(WINDOW, slot);
  }

  /**
   * A use of the entry in `slot`. Its sketch counters are not touched now: the use waits in the
   * slot's byte until the entry leaves or the sketch ages, and every estimate of this key adds it
   * ({@linkcode estimate}), so every estimate of this key is what counting at once gives. (Other
   * keys that share a counter see those uses later, which only makes their estimates less
   * inflated.) A hit then touches the slot's byte and links, as LRU's does, not four counters.
   * Nor the sketch's use count: the caller reports its hits with `sketch.addUses` before its next
   * insert.
   *
   * @returns The slot's byte before the hit: `& FLAG` tells whether it was flagged at insert.
   */
  hit(slot: number): number {
    const state = this.countUse(slot);
    this.#move(slot, (state & QUEUE_MASK) - 1);
    return state;
  }

  /**
   * The slot-byte half of {@linkcode hit} (the other is {@linkcode reorder}): the two are
   * independent, so a batch of hits may do all of one, then all of the other.
   */
  countUse(slot: number): number {
    const owner = this.queues.owner;
    const state = owner[slot]!;
    if ((state & PENDING) !== PENDING) owner[slot] = state + PENDING_ONE;
    return state;
  }

  /**
   * A use of the entry in `slot`, whose key hash is `hash` and its spread `spread`, counted in the
   * sketch at once (the miniatures' hits: see the adaptive policy).
   */
  touch(slot: number, hash: number, spread: number): void {
    this.sketch.incrementSeen(hash, spread);
    this.reorder(slot);
  }

  /**
   * The queue half of a use of `slot` (for an engine whose sketch is never read, a 100 % window,
   * or after counting the use with `sketch.incrementSeen`).
   */
  reorder(slot: number): void {
    this.#move(slot, (this.queues.owner[slot]! & QUEUE_MASK) - 1);
  }

  /** Moves `slot`, which queue `queue` holds, for a use. */
  #move(slot: number, queue: number): void {
    const queues = this.queues;
    if (queue === PROBATION) {
      // Promoted; the protected segment is cut back to its share lazily, in victim().
      queues.unlink(slot);
      queues.push(PROTECTED, slot);
    } else {
      queues.toHead(queue, slot);
    }
  }

  /** The estimated recent uses of the entry in `slot`'s key (its pending uses included). */
  estimate(slot: number): number {
    const hash = this.hashes[slot]!;
    const pending = (this.queues.owner[slot]! & PENDING) >>> PENDING_SHIFT;
    return Math.min(15, this.sketch.countSpread(hash, _spreadOf(hash)) + pending);
  }

  /** Forgets `slot` (its pending uses go to the sketch, which remembers the key). */
  remove(slot: number): void {
    const owner = this.queues.owner;
    const pending = (owner[slot]! & PENDING) >>> PENDING_SHIFT;
    if (pending !== 0) {
      const hash = this.hashes[slot]!;
      this.sketch.addSeen(hash, _spreadOf(hash), pending);
    }
    this.queues.unlink(slot);
    owner[slot] = 0;
  }

  /** Adds every slot's pending uses to the sketch (before it ages: they happened before). */
  #addPending(): void {
    const owner = this.queues.owner;
    const hashes = this.hashes;
    const sketch = this.sketch;
    for (let slot = 0; slot < owner.length; slot++) {
      const state = owner[slot]!;
      if ((state & PENDING) === 0) continue;
      const hash = hashes[slot]!;
      sketch.addSeen(hash, _spreadOf(hash), (state & PENDING) >>> PENDING_SHIFT);
      owner[slot] = state & ~PENDING;
    }
  }

  /** The slot to evict; called when one entry too many is held. */
  victim(): number {
    const queues = this.queues;
    const size = queues.size;
    const total = size[WINDOW]! + size[PROBATION]! + size[PROTECTED]!;
    const windowTarget = Math.max(1, Math.round(this.window * (total - 1)));
    const mainTarget = total - 1 - windowTarget;
    const protectedTarget = PROTECTED_SHARE * (size[PROBATION]! + size[PROTECTED]!);
    while (size[PROTECTED]! > protectedTarget) {
      const demoted = queues.tail[PROTECTED]!;
      queues.unlink(demoted);
      queues.push(PROBATION, demoted);
    }
    for (;;) {
      const main = size[PROBATION]! + size[PROTECTED]!;
      if (size[WINDOW]! > windowTarget || main === 0) {
        const candidate = queues.tail[WINDOW]!;
        if (main === 0 && size[WINDOW]! === 1) return candidate;
        if (main < mainTarget || main === 0) {
          // The main space is not full yet: admit for free.
          queues.unlink(candidate);
          queues.push(PROBATION, candidate);
          continue;
        }
        const victim = this.#mainVictim();
        if (this.#admit(candidate, victim)) {
          queues.unlink(candidate);
          queues.push(PROBATION, candidate);
          return victim;
        }
        return candidate;
      }
      return this.#mainVictim();
    }
  }

  /** Forgets every slot and every frequency. */
  clear(): void {
    this.queues.clear();
    this.sketch.clear();
  }

  /** Whether the entry in slot `candidate` should replace the one in slot `victim`. */
  #admit(candidate: number, victim: number): boolean {
    // Counters only: the doorkeeper's bit favours whatever was seen since the last aging, and
    // right after an aging that is every candidate (a loop lost 2.5 points to the churn).
    const candidateFrequency = this.estimate(candidate);
    // A candidate never counted loses to any victim (and is not warm): skip the victim's count.
    if (candidateFrequency === 0) return false;
    const victimFrequency = this.estimate(victim);
    if (candidateFrequency > victimFrequency) return true;
    if (candidateFrequency < WARM) return false;
    // xorshift32
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x;
    return (x & RANDOM_MASK) === 0;
  }

  #mainVictim(): number {
    const queues = this.queues;
    const victim = queues.tail[PROBATION]!;
    if (victim !== NONE) return victim;
    return queues.tail[PROTECTED]!;
  }
}
