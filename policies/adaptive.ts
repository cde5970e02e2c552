/**
 * The default eviction policy: W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU:
 * A Highly Efficient Cache Admission Policy", ACM TOS 2017) whose window share
 * is chosen continuously by miniature simulations (Waldspurger, Saemundsson,
 * Ahmad, Park, "Cache Modeling and Optimization using Miniature Simulations",
 * USENIX ATC 2017).
 *
 * Why: the best window differs by workload — 1 % wins on frequency- and
 * loop-heavy traces, 30–75 % on recency-heavy ones (docs/benchmarks.md).
 * Caffeine moves its window by hill climbing on the cache's own hit rate,
 * which is noisy at low hit rates and slow at large sizes. Here a fixed
 * sample of the key space (keys whose hash falls below a threshold, so a key
 * is always in or always out) is replayed through a few small W-TinyLFU
 * caches scaled down by the same rate, one per candidate window share. Every
 * period, the window of the one with the most hits (scores decay, so a phase
 * change is followed) becomes the real window. The candidates see the same
 * requests at the same time, so their comparison is not confounded by the
 * workload changing between measurements, as a climber's is.
 *
 * A hit costs about what an LRU hit costs: it moves the slot in its queue and
 * records the use in the slot's own byte, not in the sketch's four counters
 * (`_WindowTinyLfu.hit`); the uses reach the counters when the entry leaves
 * or the sketch ages, and every estimate of the key adds them, so admission
 * sees every hit. Hits wait in a small buffer (slot numbers in a typed array)
 * and are applied in order at the next other call, or when it is full
 * (Caffeine's read buffer, Ben Manes): applied in passes, their cache misses
 * overlap. The buffer never drops a hit: dropping them cost 1.6 points on P6
 * (docs/benchmarks.md).
 *
 * @module
 */
import type { EvictionPolicy } from "./policy.ts";
import { _WindowTinyLfu, FLAG } from "./_wtinylfu.ts";
import { _hashKey } from "./_hash.ts";
import { checkOptionNames } from "../cache.ts";
import { _spreadOf } from "./_sketch.ts";

/**
 * The constants of the adaptation, in one object so the benchmarks can try others
 * while experimenting; not part of the API.
 */
export const _tuning = {
  /** The window shares the miniature caches try, smallest first. */
  candidates: [0, 0.05, 0.2, 0.5, 1],
  /** The index of the candidate the window starts at. */
  start: 2,
  /**
   * A miniature cache holds `entries >>> miniShift` entries, clamped to `[miniMin, miniMax]`. 5, not
   * 6: between ~4 000 and ~65 000 entries a sample of one key in 64 missed or caught a few hot keys
   * by chance, and the miniatures' ranking of the windows followed that draw rather than the
   * workload (zipf-phases at 10 000 entries, seed 42: 0.60 below LRU; docs/benchmarks.md).
   */
  miniShift: 5,
  miniMin: 64,
  miniMax: 1024,
  /**
   * The miniatures' shared id space starts with room for `ids × (miniature entries + 1)` keys and
   * grows by half when full (up to one id per entry of every miniature).
   */
  ids: 2.5,
  /** A decision every `period × miniature entries` sampled requests. */
  period: 0.5,
  /** How much of the previous scores a period keeps. */
  decay: 0.9,
  /** The best must lead the current window by `margin × √(sum of both scores)` hits to move. */
  margin: 0.25,
  /**
   * For the first `early` decisions, a larger window moves the current one up when it leads by
   * `earlyUp` margins (not 1): the miniatures see a recency-heavy start several periods after the
   * real cache does, and a window too small there costs 15–25 points a period (bursts). Not 0.5:
   * on web12 at 4 000 entries that overshot to 100 % for some seeds (2 points lost).
   */
  early: 20,
  earlyUp: 0.75,
  /**
   * The miniatures rest (sampled requests are not replayed) for `rest` periods once the current
   * window has been settled for `stable` decisions in a row — it leads every other candidate by
   * the margin, or, after `tiedAfter` decisions, every candidate scores within `tie` of it (the
   * window does not matter) — then refill for a period before deciding again. `rest: 0` never
   * rests.
   */
  stable: 4,
  rest: 6,
  /**
   * A rest that ran its course, followed by a decision that finds the window still settled, is
   * followed at once by a rest twice as long, up to `restMax` periods (`rest` again after a move,
   * an unsettled decision or a rest cut short by a hit-rate change).
   */
  restMax: 96,
  /**
   * Rests grow only while no other window scores more than `growTie × tie` of its score above the
   * current one (windows scoring below it do not matter).
   */
  growTie: 0.25,
  /** Rests only when one request in `2 ** restMaxShift` or more is sampled. */
  restMaxShift: 5,
  tie: 0.02,
  tiedAfter: 20,
  /**
   * A rest ends early when the real cache's hit rate over a period differs from the one before
   * the rest by more than `drift` standard deviations (binomial, pooled): the workload changed.
   */
  drift: 3,
  /** When set, each decision's candidate index is appended (for the benchmarks). */
  trace: undefined as number[] | undefined,
};

/** Hits buffered before they are applied (at the next other call, or when it is full). */
const READ_BUFFER = 64;

/** Options of {@linkcode AdaptiveTinyLfuPolicy}. */
export interface AdaptiveTinyLfuOptions {
  /**
   * Seeds the key hash and the random admissions, so which keys collide in the frequency
   * sketch cannot be known by someone choosing keys. Default: a random seed per policy.
   */
  seed?: number | undefined;
}

/**
 * The typed array for the miniatures' slots and ids: 16 bits while they fit (they do for every
 * tuning the policy ships with: ids stay under 11 000), which halves the miniatures' tables (issue
 * 14: memory per entry at 100 000 entries).
 */
type Ids = Int16Array | Int32Array;
const idArray = (length: number, ids: number): Ids =>
  ids <= 0x7fff ? new Int16Array(length) : new Int32Array(length);

/** A scaled-down W-TinyLFU with a fixed window, fed the sampled requests. */
class _Mini {
  engine: _WindowTinyLfu;
  /** The slot of each sampled key id (see {@linkcode _Minis}), or -1. */
  slotOfId: Ids;
  idOfSlot: Ids;
  free: number[] = [];
  used = 0;
  count = 0;
  capacity: number;
  hits = 0;
  score = 0;
  /**
   * Whether its sketch is used: a 100 % window is plain LRU, which never admits by frequency,
   * so its sketch would be written and never read.
   */
  counted: boolean;

  /** `ids`: how many ids there are room for now; `maxIds`: how many there can ever be. */
  constructor(capacity: number, ids: number, maxIds: number, window: number, seed: number) {
    this.capacity = capacity;
    this.counted = window < 1;
    // An uncounted engine's sketch is never read: size it for one key.
    this.engine = new _WindowTinyLfu(capacity + 1, this.counted ? capacity + 1 : 1, window, seed);
    this.slotOfId = idArray(ids, maxIds).fill(-1);
    this.idOfSlot = idArray(capacity + 1, maxIds);
  }

  clear(): void {
    this.engine.clear();
    this.slotOfId.fill(-1);
    this.free = [];
    this.used =
      this.count =
      this.hits =
      this.score =
        0;
  }
}

/**
 * The miniature caches, sharing one table from sampled key hash to a small id (one lookup per
 * sampled request, not one per miniature); an id lives while some miniature holds its key. The
 * table is open addressing with linear probing over typed arrays (deletion shifts the run back,
 * so there are no tombstones): a `Map<number, number>` there was a fifth of a hit's cost at 1 000
 * entries.
 */
class _Minis {
  list: _Mini[];
  /** Sampled key hash per table cell, or -1 (hashes are 30-bit, never negative). */
  #tableHash: Int32Array;
  #tableId: Ids;
  #mask: number;
  #holders: Uint8Array;
  #freeIds: number[] = [];
  #nextId = 0;
  /** Ids there is room for now (the tables grow up to `#maxIds`), and ever. */
  #ids: number;
  #maxIds: number;

  constructor(capacity: number, windows: number[], seed: number) {
    // Miniatures that held different keys each would need `windows × entries` ids; they hold
    // mostly the same ones (about 2 × entries at most, measured on the given traces and on a
    // store filled with new keys), so the id space starts at 2.5 × and grows when needed
    // (`_tuning.ids`).
    this.#maxIds = windows.length * (capacity + 1) + 1;
    const ids = this.#ids = Math.min(
      this.#maxIds,
      Math.max(1, Math.ceil(_tuning.ids * (capacity + 1))),
    );
    this.#holders = new Uint8Array(ids);
    this.#tableHash = new Int32Array(0);
    this.#tableId = idArray(0, this.#maxIds);
    this.#mask = 0;
    this.#table();
    this.list = windows.map((window, i) =>
      new _Mini(capacity, ids, this.#maxIds, window, seed + i)
    );
  }

  /**
   * (Re)builds the hash → id table for `#ids` ids: at most 2/3 full, so probes stay short (2×, as
   * before, made the table of 1 024-entry miniatures twice as large).
   */
  #table(): void {
    let cells = 16;
    while (cells < 1.5 * this.#ids) cells *= 2;
    const oldHash = this.#tableHash, oldId = this.#tableId;
    if (cells === oldHash.length) return;
    const tableHash = this.#tableHash = new Int32Array(cells).fill(-1);
    const tableId = this.#tableId = idArray(cells, this.#maxIds);
    const mask = this.#mask = cells - 1;
    for (let i = 0; i < oldHash.length; i++) {
      const hash = oldHash[i]!;
      if (hash === -1) continue;
      let cell = hash & mask;
      while (tableHash[cell] !== -1) cell = (cell + 1) & mask;
      tableHash[cell] = hash;
      tableId[cell] = oldId[i]!;
    }
  }

  /** Makes room for more ids (ids are labels: which id a key gets changes no hit). */
  #grow(): void {
    const ids = this.#ids = Math.min(this.#maxIds, Math.ceil(1.5 * this.#ids));
    const holders = new Uint8Array(ids);
    holders.set(this.#holders);
    this.#holders = holders;
    for (const mini of this.list) {
      const slotOfId = idArray(ids, this.#maxIds).fill(-1);
      slotOfId.set(mini.slotOfId);
      mini.slotOfId = slotOfId;
    }
    this.#table();
  }

  /** One sampled request for the key with `hash`, whose sketch spread is `spread`. */
  request(hash: number, spread: number): void {
    const tableHash = this.#tableHash;
    const mask = this.#mask;
    let cell = hash & mask;
    let id: number;
    for (;;) {
      const held = tableHash[cell]!;
      if (held === hash) {
        id = this.#tableId[cell]!;
        break;
      }
      if (held === -1) {
        if (this.#freeIds.length === 0 && this.#nextId === this.#ids) {
          this.#grow();
          return this.request(hash, spread);
        }
        id = this.#freeIds.pop() ?? this.#nextId++;
        tableHash[cell] = hash;
        this.#tableId[cell] = id;
        break;
      }
      cell = (cell + 1) & mask;
    }
    const holders = this.#holders;
    const list = this.list;
    for (let m = 0; m < list.length; m++) {
      const mini = list[m]!;
      const engine = mini.engine;
      const slot = mini.slotOfId[id]!;
      if (slot >= 0) {
        mini.hits++;
        if (mini.counted) engine.touch(slot, hash, spread);
        else engine.reorder(slot);
        continue;
      }
      const fresh = mini.free.pop() ?? mini.used++;
      mini.slotOfId[id] = fresh;
      mini.idOfSlot[fresh] = id;
      holders[id]!++;
      if (mini.counted) engine.insertSpread(fresh, hash, spread, 0);
      else engine.insertUncounted(fresh, hash);
      if (++mini.count > mini.capacity) {
        const victim = engine.victim();
        engine.remove(victim);
        const gone = mini.idOfSlot[victim]!;
        mini.slotOfId[gone] = -1;
        mini.free.push(victim);
        mini.count--;
        if (--holders[gone]! === 0 && gone !== id) this.#release(gone, engine.hashes[victim]!);
      }
    }
    if (holders[id] === 0) this.#release(id, hash);
  }

  /** Frees `id`, whose key hash is `hash` (the table keeps no id → hash: 4 bytes an id less). */
  #release(id: number, hash: number): void {
    const tableHash = this.#tableHash;
    const tableId = this.#tableId;
    const mask = this.#mask;
    let cell = hash & mask;
    while (tableHash[cell] !== hash) cell = (cell + 1) & mask;
    // Backward-shift deletion: pull later members of the run into the hole when their home
    // cell is not inside (hole, cell].
    let hole = cell;
    for (;;) {
      cell = (cell + 1) & mask;
      const moved = tableHash[cell]!;
      if (moved === -1) break;
      const home = moved & mask;
      if (((cell - home) & mask) >= ((cell - hole) & mask)) {
        tableHash[hole] = moved;
        tableId[hole] = tableId[cell]!;
        hole = cell;
      }
    }
    tableHash[hole] = -1;
    this.#freeIds.push(id);
  }

  clear(): void {
    for (const mini of this.list) mini.clear();
    this.#tableHash.fill(-1);
    this.#holders.fill(0);
    this.#freeIds = [];
    this.#nextId = 0;
  }
}

/**
 * W-TinyLFU with a window share chosen by miniature simulations; the default policy.
 *
 * @example Frequent keys survive a scan; the window adapts on its own
 * ```ts
 * import { AdaptiveTinyLfuPolicy, MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * // By name: `policy: "adaptive"` (the default). A fixed seed makes the run reproducible; the
 * // default seed is random, so which keys collide in the frequency sketch cannot be planned.
 * const store = new MemoryStore({
 *   maxEntries: 100,
 *   policy: (capacity, limit) => new AdaptiveTinyLfuPolicy(capacity, limit, { seed: 1 }),
 * });
 * for (let round = 0; round < 3; round++) {
 *   for (let i = 0; i < 50; i++) store.get(`hot${i}`) ?? store.set(`hot${i}`, i);
 * }
 * for (let i = 0; i < 1000; i++) store.set(`scan${i}`, i);
 * assert.deepEqual([store.has("hot0"), store.has("hot49")], [true, true]);
 * ```
 */
export class AdaptiveTinyLfuPolicy implements EvictionPolicy {
  #engine: _WindowTinyLfu;
  #seed: number;
  #minis: _Mini[];
  #miniSet: _Minis;
  /** A key is sampled when its hash is below this. */
  #sampleBelow: number;
  #period: number;
  #untilDecision: number;
  #start: number;
  #current: number;
  #warming = true;
  #candidates: number[];
  #decay: number;
  #margin: number;
  #stableFor: number;
  #early: number;
  #earlyUp: number;
  #tiedAfter: number;
  /** Decisions since the start (or `clear()`). */
  #decisions = 0;
  #restFor: number;
  /** The length of the next rest, in sampled requests (doubles while rests change nothing). */
  #restNext = 0;
  #restMax: number;
  /** Whether the miniatures came back from a rest that ran its full length. */
  #rested = false;
  #tie: number;
  #growTie: number;
  #drift: number;
  /** Decisions in a row that kept the window. */
  #stable = 0;
  /** Sampled requests still to skip while the miniatures rest. */
  #resting = 0;
  /** The real cache's hits and misses, and their values at the last period's end. */
  /** Hits not yet applied (slots), and the indexes of the sampled ones while draining. */
  #reads = new Int32Array(READ_BUFFER);
  #sampled = new Int32Array(READ_BUFFER);
  #readCount = 0;
  #realHits = 0;
  #realMisses = 0;
  /** Overwrites (uses for the sketch, not hits), and the hits + overwrites told to the sketch. */
  #updates = 0;
  #reportedUses = 0;
  #markHits = 0;
  #markMisses = 0;
  /** The real hit rate of the period before the rest, and its number of requests. */
  #baseRate = 0;
  #baseCount = 0;
  /** The real hit rate and requests of the last period (set by `#periodRate`). */
  #rate = 0;
  #count = 0;

  /**
   * Creates an empty policy.
   *
   * @param capacity The initial number of slots.
   * @param limit The most slots the store will ever use (its `maxEntries + 1`), when bounded:
   *   the policy sizes what it learns for that from the start, so growing loses nothing.
   * @param options See {@linkcode AdaptiveTinyLfuOptions}.
   */
  constructor(capacity: number, limit?: number, options: AdaptiveTinyLfuOptions = {}) {
    checkOptionNames("AdaptiveTinyLfuPolicy", options, ["seed"]);
    const seed = options.seed ?? crypto.getRandomValues(new Int32Array(1))[0]!;
    if (!Number.isInteger(seed)) {
      throw new TypeError(
        `Cannot create adaptive policy: seed must be an integer, received ${seed}`,
      );
    }
    this.#seed = seed | 0;
    const keys = limit ?? capacity;
    this.#start = this.#current = _tuning.start;
    this.#engine = new _WindowTinyLfu(
      capacity,
      keys,
      _tuning.candidates[this.#start]!,
      this.#seed ^ 0x5bd1e995,
    );
    const entries = Math.max(1, keys - 1);
    const tuning = _tuning;
    const target = Math.min(Math.max(entries >>> tuning.miniShift, tuning.miniMin), tuning.miniMax);
    let shift = 0;
    while ((entries >>> (shift + 1)) >= target) shift++;
    this.#sampleBelow = 2 ** (30 - shift);
    let miniEntries = Math.max(1, Math.round(entries / 2 ** shift));
    if (target === tuning.miniMax && miniEntries > target) {
      // Capped: sample at exactly `miniMax / entries`, not at the power of two at or above it,
      // which made the miniatures 1 024–2 047 entries (1 563 at 100 000: 1.5 bytes per entry more;
      // docs/benchmarks.md, "Memory per entry").
      this.#sampleBelow = Math.round(2 ** 30 * target / entries);
      miniEntries = target;
    }
    this.#candidates = [...tuning.candidates];
    this.#miniSet = new _Minis(miniEntries, this.#candidates, this.#seed);
    this.#minis = this.#miniSet.list;
    this.#period = this.#untilDecision = Math.max(1, Math.round(tuning.period * miniEntries));
    this.#decay = tuning.decay;
    this.#margin = tuning.margin;
    this.#stableFor = tuning.stable;
    this.#early = tuning.early;
    this.#earlyUp = tuning.earlyUp;
    this.#tiedAfter = tuning.tiedAfter;
    this.#tie = tuning.tie;
    this.#growTie = tuning.growTie * tuning.tie;
    this.#drift = tuning.drift;
    // Only where the miniatures cost much: one request in 32 sampled or more (below 32 768
    // entries; below ~4 096 while `miniShift` was 6). At one in 64 they are a few percent of a
    // request, and resting costs hit ratio (P6 at 50 000: 0.2–0.9 points). By the share sampled,
    // not by `shift`: where the miniatures are capped (`miniMax`), `shift` can be one less than
    // the share says (50 000 entries: shift 5, one request in 49).
    this.#restFor = this.#sampleBelow >= 2 ** (30 - tuning.restMaxShift)
      ? Math.round(tuning.rest * this.#period)
      : 0;
    this.#restNext = this.#restFor;
    this.#restMax = Math.max(this.#restFor, Math.round(tuning.restMax * this.#period));
  }

  /** The window's current share of the entries. */
  get window(): number {
    return this.#engine.window;
  }

  resize(capacity: number): void {
    this.#drain();
    this.#engine.resize(capacity);
  }

  insert(slot: number, key: string): void {
    this.#drain();
    // The hits since the last insert count towards the sketch's aging now, in one call.
    const uses = this.#realHits + this.#updates;
    if (uses !== this.#reportedUses) {
      this.#engine.sketch.addUses(uses - this.#reportedUses);
      this.#reportedUses = uses;
    }
    const hash = _hashKey(key, this.#seed);
    const spread = _spreadOf(hash);
    const sampled = hash < this.#sampleBelow;
    this.#engine.insertSpread(slot, hash, spread, sampled ? FLAG : 0);
    this.#realMisses++;
    if (sampled) this.#sample(hash, spread);
  }

  access(slot: number): void {
    this.#reads[this.#readCount++] = slot;
    if (this.#readCount === READ_BUFFER) this.#drain();
  }

  update(slot: number): void {
    this.#drain();
    this.#updates++;
    this.#engine.hit(slot);
  }

  remove(slot: number): void {
    this.#drain();
    this.#engine.remove(slot);
  }

  victim(): number {
    this.#drain();
    return this.#engine.victim();
  }

  /**
   * Applies the buffered hits, exactly as applying each at once would: in three passes, each in
   * the order of the hits — the slots' pending counts, the queue moves, the sampled hits'
   * replay — which share no state. In a large cache each pass's memory reads are cache misses that
   * do not wait on each other, so the processor overlaps them (get hit at 1 000 000 entries 1.03× →
   * 0.81× lru-cache's, at 100 000 1.11× → 0.76×; at 1 000 the same).
   */
  #drain(): void {
    const count = this.#readCount;
    if (count === 0) return;
    this.#readCount = 0;
    const reads = this.#reads;
    const engine = this.#engine;
    const sampled = this.#sampled;
    let found = 0;
    for (let i = 0; i < count; i++) {
      if ((engine.countUse(reads[i]!) & FLAG) !== 0) sampled[found++] = i;
    }
    for (let i = 0; i < count; i++) engine.reorder(reads[i]!);
    const hits = this.#realHits;
    const hashes = engine.hashes;
    for (let j = 0; j < found; j++) {
      const i = sampled[j]!;
      // The real hit count as it stood at this hit (the hit-rate watch reads it).
      this.#realHits = hits + i + 1;
      const hash = hashes[reads[i]!]!;
      this.#sample(hash, _spreadOf(hash));
    }
    this.#realHits = hits + count;
  }

  clear(): void {
    this.#readCount = 0;
    this.#reportedUses = this.#realHits + this.#updates;
    this.#engine.clear();
    this.#miniSet.clear();
    this.#current = this.#start;
    this.#engine.window = this.#candidates[this.#start]!;
    this.#warming = true;
    this.#untilDecision = this.#period;
    this.#stable = this.#resting = this.#decisions = 0;
    this.#restNext = this.#restFor;
    this.#rested = false;
  }

  /** Sets `#rate` and `#count` to the real hit rate and requests since the last call. */
  #periodRate(): void {
    const hits = this.#realHits - this.#markHits;
    const count = hits + this.#realMisses - this.#markMisses;
    this.#markHits = this.#realHits;
    this.#markMisses = this.#realMisses;
    this.#count = count;
    this.#rate = count > 0 ? hits / count : 0;
  }

  /** Whether the real hit rate of the period just ended differs from the one before the rest. */
  #drifted(): boolean {
    this.#periodRate();
    const n = this.#count, m = this.#baseCount;
    if (n === 0 || m === 0) return false;
    const pooled = (this.#rate * n + this.#baseRate * m) / (n + m);
    const sigma = Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m));
    return Math.abs(this.#rate - this.#baseRate) > this.#drift * sigma + 1e-9;
  }

  /**
   * Whether the window choice `current` is settled: it leads every other candidate by the
   * margin, or (after `tiedAfter` decisions) every candidate scores within `tie` of it, so the
   * window does not matter (resting then costs at most that much).
   *
   * Not settled when it ties some candidates and trails or leads others: a near tie is where the
   * miniatures cannot yet tell (bursts: 50 % and 100 % within 2 % while the real cache lost 1–2
   * points at 50 %), and resting there froze the wrong window for six periods at a time. Nor is an
   * early tie settled: before the miniatures have filled and their sketches have aged once, every
   * window scores alike (zipf-phases, bursts at 1 000 entries: rests from the fourth decision on).
   *
   * And a lead of the 100 % window never settles it: that miniature has no sketch, so after a rest
   * it is back at full strength once refilled while the others' sketches have missed the rest's
   * requests. Its lead after a rest was partly the rest's doing, and it rested again: on recency
   * bursts followed by a Zipf phase the window stayed at 100 % through the Zipf phase (10 000
   * entries: 0.1–0.5 points below LRU in all, 0.2–0.7 above without such rests).
   */
  #settled(current: number): boolean {
    const minis = this.#minis;
    const mine = minis[current]!.score;
    let tied = true, leads = true;
    for (let i = 0; i < minis.length; i++) {
      if (i === current) continue;
      const other = minis[i]!.score;
      if (Math.abs(mine - other) > this.#tie * mine) tied = false;
      if (mine - other <= this.#margin * Math.sqrt(mine + other)) leads = false;
    }
    return (leads && minis[current]!.counted) || (tied && this.#decisions > this.#tiedAfter);
  }

  /** Whether no candidate scores more than `tie` of its score above the window choice `current`. */
  #unbeaten(current: number, tie: number): boolean {
    const minis = this.#minis;
    const mine = minis[current]!.score;
    for (let i = 0; i < minis.length; i++) {
      if (minis[i]!.score - mine > tie * mine) return false;
    }
    return true;
  }

  /** Replays one sampled request through the miniature caches; decides every period. */
  #sample(hash: number, spread: number): void {
    if (this.#resting > 0) {
      this.#resting--;
      if (--this.#untilDecision <= 0) {
        this.#untilDecision = this.#period;
        // The workload changed under the resting miniatures: wake them now.
        if (this.#drifted()) {
          this.#resting = 0;
          this.#restNext = this.#restFor;
          this.#rested = false;
        } else if (this.#resting === 0) this.#rested = true;
      } else if (this.#resting === 0) this.#rested = true;
      if (this.#resting === 0) {
        // Back from a rest: the miniatures are stale, so the next period only refills them.
        this.#warming = true;
        this.#untilDecision = this.#period;
      }
      return;
    }
    const minis = this.#minis;
    this.#miniSet.request(hash, spread);
    if (--this.#untilDecision > 0) return;
    this.#untilDecision = this.#period;
    if (this.#warming) {
      // The first period fills the miniature caches: its hits say nothing about windows.
      this.#warming = false;
      for (const mini of minis) mini.hits = 0;
      this.#periodRate();
      return;
    }
    let best = 0;
    if (this.#restFor > 0) this.#periodRate();
    for (let i = 0; i < minis.length; i++) {
      const mini = minis[i]!;
      mini.score = mini.score * this.#decay + mini.hits;
      mini.hits = 0;
      if (mini.score > minis[best]!.score) best = i;
    }
    const current = this.#current;
    const lead = minis[best]!.score - minis[current]!.score;
    // Noise-robust: move only on a clear lead, and one candidate at a time — a jump to a large
    // window flushes the main space, which a large cache takes long to refill. (Moving straight
    // to the best on a lead of two or three margins changed no synthetic workload by more than
    // 0.1 point: by the time the lead is that large, the steps have been taken.) Early on, a
    // larger window needs only `earlyUp` margins (`_tuning.early`).
    this.#decisions++;
    const margin = best > current && this.#decisions <= this.#early
      ? this.#earlyUp * this.#margin
      : this.#margin;
    const rested = this.#rested;
    this.#rested = false;
    if (lead > margin * Math.sqrt(minis[best]!.score + minis[current]!.score)) {
      this.#current = current + Math.sign(best - current);
      this.#stable = 0;
      this.#restNext = this.#restFor;
    } else if (!this.#settled(current)) {
      this.#stable = 0;
      this.#restNext = this.#restFor;
    } else if (
      this.#restFor > 0 && (rested || ++this.#stable >= this.#stableFor)
    ) {
      // Settled for a while (or still settled right after a rest that changed nothing): rest the
      // miniatures, and remember the real hit rate to watch.
      this.#stable = 0;
      this.#resting = this.#restNext;
      if (rested && this.#unbeaten(current, this.#growTie)) {
        this.#resting = this.#restNext = Math.min(2 * this.#restNext, this.#restMax);
      }
      this.#baseRate = this.#rate;
      this.#baseCount = this.#count;
    }
    this.#engine.window = this.#candidates[this.#current]!;
    _tuning.trace?.push(this.#current);
  }
}
