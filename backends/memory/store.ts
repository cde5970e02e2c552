/**
 * {@linkcode MemoryStore}: the synchronous engine behind `MemoryCache`.
 *
 * Entries live in slots: a `Map` from key to slot number, and arrays indexed
 * by slot for key, value, expiry and size. An {@linkcode EvictionPolicy}
 * orders the slots. Expired entries are dropped when read, and reclaimed in
 * the background of writes: every insert examines the next two slots of a
 * rotating cursor, so no timer per entry is needed and expired entries cannot
 * pile up.
 *
 * @module
 */
import {
  _describe,
  addDelta,
  type CacheStats,
  checkDefaultTtl,
  checkDelta,
  checkKey,
  checkOptionNames,
  checkValue,
  resolveTtl,
} from "../../cache.ts";
import {
  DEFAULT_POLICY,
  type EvictionPolicy,
  POLICIES,
  type PolicyFactory,
  type PolicyName,
} from "../../policies/policy.ts";
import { _copyIn, _copyMode, _copyOut, AS_IS, type CopyMode } from "./_copy.ts";
import { ENVELOPE_MARK, isEnvelope, wrapEntry } from "../_get_or_set.ts";

/** Why an entry left the store, as told to `onEvict`. */
export type EvictionCause = "evicted" | "expired" | "deleted" | "replaced" | "cleared";

/** Options of {@linkcode MemoryStore} and `MemoryCache`. */
export interface MemoryStoreOptions {
  /** At most this many entries; `0` = unbounded. Default 500. */
  maxEntries?: number | undefined;
  /** At most this many bytes, as measured by `sizeOf`; unbounded when absent. */
  maxBytes?: number | undefined;
  /** The size of an entry for `maxBytes`. Default: a rough byte count of the value. */
  sizeOf?: ((value: unknown, key: string) => number) | undefined;
  /** The eviction policy, by name or as a factory. Default `"adaptive"` (W-TinyLFU with an adaptive window; see docs/benchmarks.md). */
  policy?: PolicyName | PolicyFactory | undefined;
  /** Lifetime in ms of entries stored without a ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Store and hand out copies (`true`, the default) or references (`false`). */
  clone?: boolean | undefined;
  /** The clock in ms. Default `Date.now`, read at most once per event-loop turn and 256 uses. */
  now?: (() => number) | undefined;
  /** Called after an entry leaves the store, with the reason. */
  onEvict?: ((key: string, value: unknown, cause: EvictionCause) => void) | undefined;
}

/** Every option name of {@linkcode MemoryStoreOptions}, for `checkOptionNames`. */
export const _STORE_OPTIONS: readonly string[] = [
  "maxEntries",
  "maxBytes",
  "sizeOf",
  "policy",
  "defaultTtl",
  "clone",
  "now",
  "onEvict",
];

const SWEEP_PER_INSERT = 2;

/** Keeps a timer from holding the process open (Deno, Node and Bun). */
function _unref(timer: unknown): void {
  if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
  } else (timer as { unref?(): void }).unref?.();
}
/** The default clock is re-read after this many uses even within one synchronous turn. */
const CLOCK_USES = 256;

function roughSize(value: unknown): number {
  switch (typeof value) {
    case "string":
      return 2 * value.length + 16;
    case "object":
      if (value === null) return 8;
      if (ArrayBuffer.isView(value)) return value.byteLength + 32;
      if (value instanceof ArrayBuffer) return value.byteLength + 32;
      try {
        return 2 * JSON.stringify(value).length + 16;
      } catch {
        return 1024;
      }
    default:
      return 16;
  }
}

function checkCount(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot create MemoryStore: ${name} must be an integer >= 0, received ${_describe(value)}`,
    );
  }
  return value;
}

/**
 * A synchronous in-memory cache with TTLs, a bound on entries and/or bytes,
 * a pluggable eviction policy and copy-on-read semantics.
 *
 * @example A bounded LRU with a ttl
 * ```ts
 * import { MemoryStore } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore({ maxEntries: 1000, defaultTtl: 60_000 });
 * store.set("user:1", { name: "Ada" });
 * assert.deepEqual(store.get("user:1"), { name: "Ada" });
 * assert.equal(store.size, 1);
 * ```
 */
export class MemoryStore {
  /** The ttl in ms used when a call gives none; `0` = never expire. */
  readonly defaultTtl: number;
  /** The bound on entries; `0` = unbounded. */
  readonly maxEntries: number;
  /** The bound on total `sizeOf`; `0` = unbounded. */
  readonly maxBytes: number;

  #map = new Map<string, number>();
  // Sized to the slot capacity when the store is bounded: grown by appending, V8 leaves up to half
  // again as much room (at 1 000 000 entries 2.4 bytes per entry in each of the two arrays).
  #keys: (string | undefined)[];
  #values: unknown[];
  // Allocated on first use (lru-cache installs its TTL arrays the same way): a store that never
  // sees a ttl or a copied object pays neither 8 bytes of expiry nor 1 of copy mode per slot.
  #expires: Float64Array | undefined;
  #modes: Uint8Array | undefined;
  #sizes: Float64Array | undefined;
  #capacity: number;
  #free: number[] = [];
  #used = 0;
  #bytes = 0;
  #cursor = 0;
  #policy: EvictionPolicy;
  #clone: boolean;
  #sizeOf: (value: unknown, key: string) => number;
  #onEvict: ((key: string, value: unknown, cause: EvictionCause) => void) | undefined;
  // Departures not yet told to onEvict, flat as key, value, cause: the callback runs only once
  // the operation that caused them is complete, so it may use the store (dispose-after).
  #pending: unknown[] = [];
  #notifying = false;
  // While callbacks run: the slot the outermost call wrote, which their own writes may not evict.
  #pinned = -1;
  #now: () => number;
  #hits = 0;
  #misses = 0;
  #sets = 0;
  #deletes = 0;
  #evictions = 0;

  /**
   * Creates an empty store.
   *
   * @param options See {@linkcode MemoryStoreOptions}.
   */
  constructor(options: MemoryStoreOptions = {}) {
    checkOptionNames("MemoryStore", options, _STORE_OPTIONS);
    this.defaultTtl = checkDefaultTtl(options.defaultTtl);
    this.maxEntries = checkCount("maxEntries", options.maxEntries, 500);
    this.maxBytes = checkCount("maxBytes", options.maxBytes, 0);
    this.#clone = options.clone ?? true;
    this.#sizeOf = options.sizeOf ?? roughSize;
    this.#onEvict = options.onEvict;
    if (options.now !== undefined && typeof options.now !== "function") {
      throw new TypeError(
        `Cannot create MemoryStore: now must be a function, received ${_describe(options.now)}`,
      );
    }
    this.#now = options.now ?? this.#cachedNow;
    const policy = options.policy ?? DEFAULT_POLICY;
    const factory = typeof policy === "function" ? policy : POLICIES[policy];
    if (!factory || (typeof policy === "string" && !Object.hasOwn(POLICIES, policy))) {
      throw new TypeError(
        `Cannot create MemoryStore: unknown policy ${_describe(policy)}; expected one of ${
          Object.keys(POLICIES).map((name) => `"${name}"`).join(", ")
        } or a factory function`,
      );
    }
    this.#capacity = this.maxEntries > 0 ? Math.min(this.maxEntries + 1, 1 << 16) : 64;
    this.#keys = this.#slotArray<string | undefined>([]);
    this.#values = this.#slotArray<unknown>([]);
    if (this.maxBytes > 0) this.#sizes = new Float64Array(this.#capacity);
    this.#policy = factory(this.#capacity, this.maxEntries > 0 ? this.maxEntries + 1 : undefined);
  }

  // The default clock: Date.now() costs several Map lookups, so one reading
  // serves until the event loop's next macrotask (an unref'd timer resets it)
  // and at most CLOCK_USES uses, so a long synchronous loop still sees time pass.
  #time = 0;
  #clockUses = 0;
  #resetPending = false;
  #resetClock = () => {
    this.#resetPending = false;
    this.#clockUses = 0;
  };
  #cachedNow = (): number => {
    if (this.#clockUses-- > 0) return this.#time;
    this.#clockUses = CLOCK_USES;
    if (!this.#resetPending) {
      this.#resetPending = true;
      _unref(setTimeout(this.#resetClock, 0));
    }
    return (this.#time = Date.now());
  };

  /** The number of entries held, expired ones not yet reclaimed included. */
  get size(): number {
    return this.#map.size;
  }

  /** The value under `key` (a copy unless `clone: false`), or `undefined`. */
  get<T = unknown>(key: string): T | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) {
      if (typeof key !== "string") checkKey("get", key);
      this.#misses++;
      return undefined;
    }
    const expiries = this.#expires;
    if (expiries !== undefined) {
      const expires = expiries[slot]!;
      if (expires !== 0 && expires <= this.#now()) {
        this.#remove(slot, "expired");
        this.#misses++;
        if (this.#pending.length > 0) this.#notify();
        return undefined;
      }
    }
    this.#policy.access(slot);
    this.#hits++;
    const value = this.#values[slot];
    if (typeof value !== "object" || value === null) return value as T;
    const modes = this.#modes;
    return modes === undefined ? value as T : _copyOut(value, modes[slot] as CopyMode) as T;
  }

  /** Whether `key` holds a live entry (does not count as a use for the policy). */
  has(key: string): boolean {
    checkKey("has", key);
    return this._has(key);
  }

  /**
   * Stores `value` under `key` for `ttl` ms (default `defaultTtl`; `0` = never).
   *
   * @returns `true`, or `false` when the value alone is larger than `maxBytes`.
   */
  set(key: string, value: unknown, ttl?: number): boolean {
    checkKey("set", key);
    const ms = resolveTtl("set", key, ttl, this.defaultTtl);
    checkValue("set", key, value);
    return this._set(key, value, ms);
  }

  /** Stores `value` only when `key` holds no live entry; `true` when stored. */
  add(key: string, value: unknown, ttl?: number): boolean {
    checkKey("add", key);
    const ms = resolveTtl("add", key, ttl, this.defaultTtl);
    checkValue("add", key, value);
    return this._add(key, value, ms);
  }

  /**
   * Adds `delta` to the integer under `key` (a missing key counts as 0 and is
   * created with the default ttl; an existing entry keeps its expiry).
   */
  inc(key: string, delta?: number): number {
    checkKey("inc", key);
    return this._addToCounter("inc", key, checkDelta("inc", key, delta));
  }

  /** Subtracts `delta` (default 1) from the integer under `key`; see {@linkcode MemoryStore.inc}. */
  dec(key: string, delta?: number): number {
    checkKey("dec", key);
    return this._addToCounter("dec", key, -checkDelta("dec", key, delta));
  }

  #addToCounter(op: "inc" | "dec", key: string, by: number): number {
    const slot = this.#live(key);
    if (slot === undefined) {
      const next = addDelta(op, key, 0, by);
      this.#put(op, key, next, this.defaultTtl);
      return next;
    }
    const next = addDelta(op, key, this.#values[slot], by);
    this.#values[slot] = next;
    if (this.#modes !== undefined) this.#modes[slot] = AS_IS;
    this.#policy.update(slot);
    this.#sets++;
    return next;
  }

  /** Removes `key`; `true` when a live entry was removed. */
  delete(key: string): boolean {
    checkKey("delete", key);
    return this._delete(key);
  }

  // The unchecked twins of the public methods, for MemoryCache, whose base
  // class has already checked the arguments and resolved the ttl. They tell
  // onEvict (dispose-after) like the public methods.
  /** `set` without the argument checks (`ttl` resolved); internal, for `MemoryCache`. */
  _set(key: string, value: unknown, ttl: number): boolean {
    const stored = this.#put("set", key, value, ttl);
    if (this.#pending.length > 0) this.#notify(key);
    return stored;
  }
  /** `add` without the argument checks (`ttl` resolved); internal, for `MemoryCache`. */
  _add(key: string, value: unknown, ttl: number): boolean {
    const stored = this.#live(key) === undefined && this.#put("add", key, value, ttl);
    if (this.#pending.length > 0) this.#notify(key);
    return stored;
  }
  /**
   * `get` for `getOrSet` (internal, for `MemoryCache`): counted and seen by the policy like
   * `get`, but a getOrSet envelope comes back as a new envelope around a copy of its value, so a
   * stale-while-revalidate hit copies what a plain hit copies.
   */
  _getEntry(key: string): unknown {
    const slot = this.#map.get(key);
    if (slot === undefined) {
      this.#misses++;
      return undefined;
    }
    const expires = this.#expires?.[slot] ?? 0;
    if (expires !== 0 && expires <= this.#now()) {
      this.#remove(slot, "expired");
      this.#misses++;
      if (this.#pending.length > 0) this.#notify();
      return undefined;
    }
    this.#policy.access(slot);
    this.#hits++;
    const value = this.#values[slot];
    if (typeof value !== "object" || value === null) return value;
    const mode = (this.#modes?.[slot] ?? AS_IS) as CopyMode;
    if (!isEnvelope(value)) return _copyOut(value, mode);
    const inner = value.v;
    const copy = typeof inner === "object" && inner !== null ? _copyOut(inner, mode) : inner;
    return wrapEntry(copy, value[ENVELOPE_MARK], value.t);
  }
  /**
   * The stored value of a live `key` itself (not a copy: only to inspect, never to hand out),
   * without counting a read or telling the policy; internal, for `MemoryCache`'s `_peek`.
   */
  _peek(key: string): unknown {
    const slot = this.#live(key);
    if (this.#pending.length > 0) this.#notify();
    return slot === undefined ? undefined : this.#values[slot];
  }
  /** `has` without the argument check; internal, for `MemoryCache`. */
  _has(key: string): boolean {
    const slot = this.#live(key);
    if (slot === undefined) this.#misses++;
    else this.#hits++;
    if (this.#pending.length > 0) this.#notify();
    return slot !== undefined;
  }
  /** Whether `key` is live, counting neither a hit nor a miss; internal, for memoize's hit path. */
  _isLive(key: string): boolean {
    const slot = this.#live(key);
    if (this.#pending.length > 0) this.#notify();
    return slot !== undefined;
  }
  /** `delete` without the argument check; internal, for `MemoryCache`. */
  _delete(key: string): boolean {
    const slot = this.#live(key);
    if (slot !== undefined) {
      this.#remove(slot, "deleted");
      this.#deletes++;
    }
    if (this.#pending.length > 0) this.#notify();
    return slot !== undefined;
  }
  /** `inc` (or `dec`, with the delta negated) without the checks; internal, for `MemoryCache`. */
  _addToCounter(op: "inc" | "dec", key: string, delta: number): number {
    const next = this.#addToCounter(op, key, delta);
    if (this.#pending.length > 0) this.#notify(key);
    return next;
  }

  /** Removes every entry. */
  clear(): void {
    const entries = this.#onEvict
      ? [...this.#map].map(([key, slot]) => [key, this.#values[slot]] as const)
      : [];
    this.#map.clear();
    this.#keys = this.#slotArray<string | undefined>([]);
    this.#values = this.#slotArray<unknown>([]);
    this.#free = [];
    this.#used = 0;
    this.#bytes = 0;
    this.#cursor = 0;
    this.#expires?.fill(0);
    this.#modes?.fill(0);
    this.#policy.clear();
    for (const [key, value] of entries) this.#pending.push(key, value, "cleared");
    if (this.#pending.length > 0) this.#notify();
  }

  /** Removes every expired entry now; returns how many. */
  prune(): number {
    let removed = 0;
    const expiries = this.#expires;
    if (expiries === undefined) return 0;
    const now = this.#now();
    for (const slot of this.#map.values()) {
      const expires = expiries[slot]!;
      if (expires !== 0 && expires <= now) {
        this.#remove(slot, "expired");
        removed++;
      }
    }
    if (this.#pending.length > 0) this.#notify();
    return removed;
  }

  /**
   * The remaining lifetime of `key` in ms: `0` when it never expires, `undefined` on a miss
   * (an expired entry is dropped, as by every read). Not a use for the policy.
   *
   * @example
   * ```ts
   * import { MemoryStore } from "@cachelib/cachelib";
   * import assert from "node:assert/strict";
   *
   * let now = 1_000;
   * const store = new MemoryStore({ now: () => now });
   * store.set("a", 1, 5_000);
   * store.set("b", 2, 0);
   * now += 2_000;
   * assert.equal(store.ttl("a"), 3_000);
   * assert.equal(store.ttl("b"), 0);
   * assert.equal(store.ttl("missing"), undefined);
   * assert.equal(store.touch("a", 10_000), true);
   * assert.equal(store.ttl("a"), 10_000);
   * assert.deepEqual([...store.keys()].sort(), ["a", "b"]);
   * ```
   */
  ttl(key: string): number | undefined {
    checkKey("ttl", key);
    return this._ttl(key);
  }

  /**
   * Gives a live `key` a new expiry `ttl` ms from now (`0` = never; default `defaultTtl`).
   * Not a use for the policy.
   *
   * @returns `true` when the key was live; `false` (nothing changed) on a miss.
   */
  touch(key: string, ttl?: number): boolean {
    checkKey("touch", key);
    return this._touch(key, resolveTtl("touch", key, ttl, this.defaultTtl));
  }

  /**
   * The live keys starting with `prefix` (default: all), in insertion order of their slots'
   * map entries. Lazy: keys set during the iteration may be seen, deleted ones are not.
   */
  *keys(prefix: string = ""): IterableIterator<string> {
    if (typeof prefix !== "string") {
      throw new TypeError(`Cannot keys: prefix must be a string, received ${_describe(prefix)}`);
    }
    const now = this.#now();
    for (const [key, slot] of this.#map) {
      const expires = this.#expires?.[slot] ?? 0;
      if ((expires === 0 || expires > now) && key.startsWith(prefix)) yield key;
    }
  }

  /** `ttl` without the argument check; internal, for `MemoryCache`. */
  _ttl(key: string): number | undefined {
    const slot = this.#live(key);
    if (this.#pending.length > 0) this.#notify();
    if (slot === undefined) return undefined;
    const expires = this.#expires?.[slot] ?? 0;
    return expires === 0 ? 0 : expires - this.#now();
  }

  /** `touch` without the argument checks (`ttl` resolved); internal, for `MemoryCache`. */
  _touch(key: string, ttl: number): boolean {
    const slot = this.#live(key);
    if (slot !== undefined && (ttl !== 0 || this.#expires !== undefined)) {
      // The expiry array is allocated on the first ttl, as by a write.
      this.#expires ??= new Float64Array(this.#capacity);
      this.#expires[slot] = ttl === 0 ? 0 : this.#now() + ttl;
    }
    if (this.#pending.length > 0) this.#notify();
    return slot !== undefined;
  }

  /** Counters since creation. */
  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      sets: this.#sets,
      deletes: this.#deletes,
      evictions: this.#evictions,
    };
  }

  /** The live slot of `key` (checked by the caller), dropping it if expired. */
  #live(key: string): number | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined || this.#expires === undefined) return slot;
    const expires = this.#expires[slot]!;
    if (expires !== 0 && expires <= this.#now()) {
      this.#remove(slot, "expired");
      return undefined;
    }
    return slot;
  }

  #put(op: string, key: string, value: unknown, ttl: number): boolean {
    let stored = value;
    let mode: CopyMode = AS_IS;
    if (this.#clone && typeof value === "object" && value !== null) {
      mode = _copyMode(value);
      stored = _copyIn(op, key, value, mode);
    }
    let size = 0;
    if (this.#sizes) {
      size = this.#sizeOf(value, key);
      if (!(size >= 0)) {
        throw new RangeError(
          `Cannot ${op} key ${_describe(key)}: sizeOf must return a number >= 0, received ${size}`,
        );
      }
      if (size > this.maxBytes) return false;
    }
    const expires = ttl === 0 ? 0 : this.#now() + ttl;
    if (expires !== 0 && this.#expires === undefined) {
      this.#expires = new Float64Array(this.#capacity);
    }
    if (mode !== AS_IS && this.#modes === undefined) this.#modes = new Uint8Array(this.#capacity);
    let slot = this.#map.get(key);
    if (slot !== undefined) {
      const old = this.#values[slot];
      this.#values[slot] = stored;
      if (this.#modes !== undefined) this.#modes[slot] = mode;
      if (this.#expires !== undefined) this.#expires[slot] = expires;
      if (this.#sizes) {
        this.#bytes += size - this.#sizes[slot]!;
        this.#sizes[slot] = size;
      }
      this.#policy.update(slot);
      this.#sets++;
      if (this.#onEvict) this.#pending.push(key, old, "replaced");
    } else {
      slot = this.#alloc();
      this.#keys[slot] = key;
      this.#values[slot] = stored;
      if (this.#modes !== undefined) this.#modes[slot] = mode;
      if (this.#expires !== undefined) this.#expires[slot] = expires;
      if (this.#sizes) {
        this.#sizes[slot] = size;
        this.#bytes += size;
      }
      this.#map.set(key, slot);
      this.#policy.insert(slot, key);
      this.#sets++;
      this.#sweep();
    }
    while (
      (this.maxEntries > 0 && this.#map.size > this.maxEntries) ||
      (this.maxBytes > 0 && this.#bytes > this.maxBytes)
    ) {
      let victim = this.#policy.victim();
      if (victim === this.#pinned && this.#map.size > 1) {
        // A callback's write would evict the entry whose write it is being told about: that
        // entry counts as just written again, so the policy names another.
        this.#policy.update(victim);
        victim = this.#policy.victim();
      }
      this.#remove(victim, "evicted");
      this.#evictions++;
    }
    return true;
  }

  #alloc(): number {
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#used === this.#capacity) this.#grow();
    return this.#used++;
  }

  #grow(): void {
    // Doubling, but never past the most slots a bounded store uses (maxEntries + 1): at 100 000
    // entries, doubling to 131 072 left a quarter of every per-slot array unused.
    const capacity = this.maxEntries > 0
      ? Math.min(this.#capacity * 2, Math.max(this.maxEntries + 1, this.#capacity + 1))
      : this.#capacity * 2;
    this.#capacity = capacity;
    this.#keys = this.#slotArray(this.#keys);
    this.#values = this.#slotArray(this.#values);
    if (this.#expires !== undefined) {
      const expires = new Float64Array(capacity);
      expires.set(this.#expires);
      this.#expires = expires;
    }
    if (this.#modes !== undefined) {
      const modes = new Uint8Array(capacity);
      modes.set(this.#modes);
      this.#modes = modes;
    }
    if (this.#sizes) {
      const sizes = new Float64Array(capacity);
      sizes.set(this.#sizes);
      this.#sizes = sizes;
    }
    this.#policy.resize(capacity);
  }

  /**
   * `from`'s elements in an array of exactly `#capacity` elements when the store is bounded (an
   * unbounded store's arrays grow by appending, as they are written).
   */
  #slotArray<T>(from: T[]): T[] {
    if (this.maxEntries === 0) return from;
    const array = new Array<T>(this.#capacity).fill(undefined as T);
    for (let i = 0; i < from.length; i++) array[i] = from[i]!;
    return array;
  }

  /** Examines the next few slots and reclaims the expired ones. */
  #sweep(): void {
    const expiries = this.#expires;
    if (expiries === undefined) return;
    for (let i = 0; i < SWEEP_PER_INSERT; i++) {
      if (this.#cursor >= this.#used) this.#cursor = 0;
      const slot = this.#cursor++;
      const expires = expiries[slot]!;
      if (expires !== 0 && this.#keys[slot] !== undefined && expires <= this.#now()) {
        this.#remove(slot, "expired");
      }
    }
  }

  #remove(slot: number, cause: EvictionCause): void {
    const key = this.#keys[slot]!;
    const value = this.#values[slot];
    this.#map.delete(key);
    this.#policy.remove(slot);
    this.#keys[slot] = undefined;
    this.#values[slot] = undefined;
    if (this.#expires !== undefined) this.#expires[slot] = 0;
    if (this.#sizes) {
      this.#bytes -= this.#sizes[slot]!;
      this.#sizes[slot] = 0;
    }
    this.#free.push(slot);
    if (this.#onEvict) this.#pending.push(key, value, cause);
  }

  /**
   * Tells onEvict of the departures so far, oldest first, once the operation that caused them is
   * complete. A callback may use the store; what its own calls remove joins the same queue and is
   * told by the outermost loop, in order. Their writes do not evict the entry `key` the outermost
   * call wrote, so that call's write survives its own callbacks under every policy. If a callback
   * throws, the rest are still told and the first error is rethrown after.
   */
  #notify(key?: string): void {
    if (this.#notifying) return;
    this.#notifying = true;
    this.#pinned = key === undefined ? -1 : this.#map.get(key) ?? -1;
    const pending = this.#pending;
    const onEvict = this.#onEvict!;
    let failed = false, error: unknown;
    try {
      for (let i = 0; i < pending.length; i += 3) {
        try {
          onEvict(pending[i] as string, pending[i + 1], pending[i + 2] as EvictionCause);
        } catch (e) {
          if (!failed) [failed, error] = [true, e];
        }
      }
    } finally {
      pending.length = 0;
      this.#notifying = false;
      this.#pinned = -1;
    }
    if (failed) throw error;
  }
}
