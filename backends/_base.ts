/**
 * The shared half of every backend: argument checks, ttl resolution, stats,
 * `getOrSet` with single-flight, `close` bookkeeping and the batch methods'
 * default loops. A backend implements the `_`-prefixed hooks, which receive
 * checked arguments and a resolved ttl, and overrides a batch hook when its
 * server can do better than a loop.
 *
 * A hook returns its result or a promise of it (`T | Promise<T>`): a
 * synchronous engine (the memory store, the filesystem's sync I/O) answers
 * directly and the public method awaits nothing it does not have to. Backends
 * that store bytes extend {@linkcode ByteCache}, which adds the serializer.
 *
 * @module
 */
import {
  _describe,
  _opAndKey,
  type Cache,
  CacheError,
  type CacheStats,
  CacheUnsupportedError,
  checkDefaultTtl,
  checkDelta,
  checkKey,
  checkKeys,
  checkValue,
  entriesOf,
  resolveTtl,
  SerializationError,
} from "../cache.ts";
import { _freshOutput, _synchronous, type Serializer } from "../serializers/serializer.ts";
import {
  type Envelope,
  ENVELOPE_MARK,
  type GetOrSetOptions,
  isEnvelope,
  openEntry,
  type Produce,
  Producer,
  wrapEntry,
} from "./_get_or_set.ts";
import { defaultSerializer } from "../serializers/default.ts";
import { createNamespace, type NamespaceOptions, type NamespaceView } from "./_namespace.ts";
import {
  checkTags,
  isReserved,
  isTagged,
  randomStart,
  type SetOptions,
  splitSetOptions,
  stillValid,
  TAG_MARK,
  type TaggedEntry,
  tagKey,
  tagsOf,
} from "./_tags.ts";

/**
 * The store a {@linkcode BaseCache} works on, as text (see `_storeId`), or
 * `undefined` when only that instance reaches its entries. Internal, for `memoize`.
 */
export let _storeIdOf: (cache: BaseCache) => string | undefined;

/** Whether `close()` was called on `cache`. Internal, for memoize's hit path. */
export let _isClosed: (cache: BaseCache) => boolean;

/** The clock of `cache` (its `now` option). Internal, for namespace views. */
export let _clockOf: (cache: BaseCache) => () => number;

/**
 * Reads `key` of `cache` as getOrSet does: a tagged entry opened (`undefined` when invalidated),
 * a getOrSet envelope unopened. Internal, for namespace views.
 */
export let _entryOf: (cache: BaseCache, key: string) => unknown | Promise<unknown>;

/** How many times `inc`/`dec` over a dead entry and `touch` of a getOrSet entry try. */
const COUNTER_ATTEMPTS = 5;

/**
 * Whether two stored values read from one key are the same entry: for `touch`'s compare-and-set,
 * so it compares what decoding gives (primitives, arrays, plain objects, Map, Set, Date, bytes);
 * anything else only by identity.
 */
function sameStored(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (depth > 64 || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer) {
    const x = new Uint8Array(ArrayBuffer.isView(a) ? a.buffer : a);
    const y = new Uint8Array(
      ArrayBuffer.isView(b) ? (b as ArrayBufferView).buffer : b as ArrayBuffer,
    );
    const [xs, ys] = ArrayBuffer.isView(a)
      ? [
        x.subarray(a.byteOffset, a.byteOffset + a.byteLength),
        y.subarray(
          (b as ArrayBufferView).byteOffset,
          (b as ArrayBufferView).byteOffset + (b as ArrayBufferView).byteLength,
        ),
      ]
      : [x, y];
    return xs.length === ys.length && xs.every((byte, i) => byte === ys[i]);
  }
  const proto = Object.getPrototypeOf(a);
  if (
    proto !== Object.prototype && proto !== Array.prototype && proto !== null &&
    !(a instanceof Map) && !(a instanceof Set) && String(a) !== String(b)
  ) return false; // a RegExp, an Error: what their fields do not show
  const pairs = (value: object): [unknown, unknown][] =>
    value instanceof Map
      ? [...value]
      : value instanceof Set
      ? [...value].map((item) => [item, item])
      : Object.entries(value);
  const [xs, ys] = [pairs(a), pairs(b)];
  if (xs.length !== ys.length) return false;
  return xs.every(([k, v], i) =>
    sameStored(k, ys[i]![0], depth + 1) && sameStored(v, ys[i]![1], depth + 1)
  );
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;

/** A process-unique name for `object` (a client or database handle given to a cache), for `_storeId`. */
export function _identityOf(object: object): string {
  let id = identities.get(object);
  if (id === undefined) identities.set(object, id = ++nextIdentity);
  return `object ${id}`;
}

/**
 * For a backend's `_addOverDead`: whether the entry `read` returns is one `dead` calls dead. An
 * entry that cannot be read (a `SerializationError`: foreign or corrupt bytes) is not dead: it
 * stays taken, as every plain read reports it.
 */
export async function _judgeStored(
  read: () => unknown,
  dead: (stored: unknown) => boolean | Promise<boolean>,
): Promise<boolean> {
  let stored: unknown;
  try {
    stored = read();
    if (stored instanceof Promise) stored = await stored;
  } catch (error) {
    if (error instanceof SerializationError) return false;
    throw error;
  }
  return await dead(stored);
}

/** The public call a counter hook serves: `dec` arrives as `inc` of the negated delta. */
export type CounterOp = "inc" | "dec";

/** Options of the {@linkcode BaseCache} constructor. */
export interface BaseCacheOptions {
  /** The ttl in ms used when a call gives none; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /**
   * The counters of an engine that keeps its own (the memory store): the base
   * class then counts nothing and `stats()` returns this function's result.
   * Absent, the base class counts.
   */
  stats?: (() => CacheStats) | undefined;
  /**
   * The clock `getOrSet`'s stale entries are judged by (ms since the epoch). Backends with an
   * injectable clock pass theirs; default `Date.now`.
   */
  now?: (() => number) | undefined;
}

/**
 * Base class for backends: implements the whole {@linkcode Cache} interface
 * on top of a few protected hooks. A hook may answer synchronously.
 *
 * @example A tiny backend over a Map (no expiry, for illustration)
 * ```ts
 * import { BaseCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * class MapCache extends BaseCache {
 *   #map = new Map<string, unknown>();
 *   protected _get(key: string) { return this.#map.get(key); }
 *   protected _set(key: string, value: unknown) { this.#map.set(key, value); return true; }
 *   protected _add(key: string, value: unknown) {
 *     if (this.#map.has(key)) return false;
 *     this.#map.set(key, value);
 *     return true;
 *   }
 *   protected _delete(key: string) { return this.#map.delete(key); }
 *   protected _has(key: string) { return this.#map.has(key); }
 *   protected _clear() { this.#map.clear(); return true; }
 *   protected _addToCounter(key: string, delta: number) {
 *     const next = ((this.#map.get(key) as number | undefined) ?? 0) + delta;
 *     this.#map.set(key, next);
 *     return next;
 *   }
 * }
 *
 * await using cache = new MapCache();
 * await cache.set("a", 1);
 * assert.equal(await cache.get("a"), 1);
 * assert.equal(await cache.dec("n", 2), -2);
 * assert.deepEqual(cache.stats(), { hits: 1, misses: 0, sets: 2, deletes: 0, evictions: 0 });
 * ```
 */
export abstract class BaseCache implements Cache {
  /** The ttl in ms used when a call gives none; `0` = never expire. */
  readonly defaultTtl: number;
  /**
   * Counters of this instance, written by the base class and by backends that
   * know more (evictions); unused when the engine keeps its own counters.
   */
  protected readonly _stats: CacheStats = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    evictions: 0,
  };
  /** Whether `close()` has been called. */
  protected _closed = false;
  /** Whether the base class counts (no engine counters were given). */
  readonly #counts: boolean;
  readonly #engineStats: (() => CacheStats) | undefined;
  readonly #now: () => number;
  readonly #producer: Producer;

  /**
   * Sets up the shared state.
   *
   * @param options See {@linkcode BaseCacheOptions}.
   */
  constructor(options: BaseCacheOptions = {}) {
    this.defaultTtl = checkDefaultTtl(options.defaultTtl, new.target.name || "cache");
    this.#engineStats = options.stats;
    this.#counts = options.stats === undefined;
    const now = this.#now = options.now ?? Date.now;
    this.#producer = new Producer({
      cache: this,
      now,
      defaultTtl: this.defaultTtl,
      read: (key) => {
        const found = this._getEntry(key);
        if (isTagged(found)) return this.#openTagged(found).then((v) => this.#countStored(v, true));
        if (found instanceof Promise) {
          return found.then((value) =>
            isTagged(value)
              ? this.#openTagged(value).then((v) => this.#countStored(v, true))
              : this.#countStored(value)
          );
        }
        return this.#counts || (typeof found === "object" && isEnvelope(found))
          ? this.#countStored(found)
          : found;
      },
      write: (key, value, ttl, tags) => this.set(key, value, tags ? { ttl, tags } : ttl),
    });
  }

  /** Reads one key; `undefined` on a miss. */
  protected abstract _get(key: string): unknown | Promise<unknown>;
  /** Stores one entry; `ttl` is resolved (`0` = never). */
  protected abstract _set(key: string, value: unknown, ttl: number): boolean | Promise<boolean>;
  /** Stores one entry only when the key holds no live entry. */
  protected abstract _add(key: string, value: unknown, ttl: number): boolean | Promise<boolean>;
  /** Removes one key; `true` when a live entry was removed. */
  protected abstract _delete(key: string): boolean | Promise<boolean>;
  /** Whether the key holds a live entry. */
  protected abstract _has(key: string): boolean | Promise<boolean>;
  /** Removes this cache's entries. */
  protected abstract _clear(): boolean | Promise<boolean>;
  /**
   * Adds `delta` to the integer under `key`, creating it with `ttl` when missing.
   * Serves both `inc` and `dec`: `dec` passes the negated delta, and `op` names
   * the public call for error messages.
   */
  protected abstract _addToCounter(
    key: string,
    delta: number,
    ttl: number,
    op: CounterOp,
  ): number | Promise<number>;

  /** Reads several keys; the default is one `_get` per distinct key, concurrently. */
  protected _getMany(keys: readonly string[]): unknown[] | Promise<unknown[]> {
    const distinct = [...new Set(keys)];
    return Promise.all(distinct.map((key) => this._get(key))).then((values) => {
      const byKey = new Map(distinct.map((key, i) => [key, values[i]]));
      return keys.map((key) => byKey.get(key));
    });
  }

  /** Stores several entries; the default is one `_set` each, concurrently. */
  protected _setMany(entries: [string, unknown][], ttl: number): string[] | Promise<string[]> {
    return Promise.all(entries.map(([key, value]) => this._set(key, value, ttl))).then(
      (results) => entries.filter((_, i) => results[i]).map(([key]) => key),
    );
  }

  /** Removes several keys; the default is one `_delete` per distinct key. */
  protected _deleteMany(keys: readonly string[]): string[] | Promise<string[]> {
    const distinct = [...new Set(keys)];
    return Promise.all(distinct.map((key) => this._delete(key))).then((results) =>
      distinct.filter((_, i) => results[i])
    );
  }

  /**
   * Reads one key for `getOrSet`, which opens envelopes itself; the default is `_get`. An engine
   * that copies values out (MemoryCache) copies only an envelope's value.
   */
  protected _getEntry(key: string): unknown | Promise<unknown> {
    return this._get(key);
  }

  /**
   * Reads one key only to look at it (is it a stale getOrSet entry?): not counted as a read by
   * an engine that counts its own, never handed to a caller. The default is `_get`.
   */
  protected _peek(key: string): unknown | Promise<unknown> {
    return this._get(key);
  }

  /** Releases resources; called once by `close()`. */
  protected _close(): void | Promise<void> {}

  /**
   * Names the store this cache reads and writes, so that two instances over
   * one store (one directory; one Redis database and key prefix) are known to
   * share entries: `memoize` keys its prefix registry by it. `undefined` (the
   * default) means no other instance can reach this cache's entries.
   */
  protected _storeId(): string | undefined {
    return undefined;
  }

  static {
    _storeIdOf = (cache) => cache._storeId();
    _isClosed = (cache) => cache._closed;
    _clockOf = (cache) => cache.#now;
    _entryOf = (cache, key) => {
      const found = cache._getEntry(key);
      if (isTagged(found)) return cache.#openTagged(found);
      if (!(found instanceof Promise)) return found;
      return found.then((value) => isTagged(value) ? cache.#openTagged(value) : value);
    };
  }

  /** Throws a `CacheError` when the cache is closed. */
  protected _checkOpen(op: string, key?: string): void {
    if (this._closed) {
      throw new CacheError(`Cannot ${_opAndKey(op, key)}: the cache is closed`, { op, key });
    }
  }

  /** The value under `key`, or `undefined`. */
  // The hot path, measured (bench/architecture_rounds.ts): a plain function that returns
  // Promise.resolve(value) beat an async function by 4–10 ns here; errors still reject.
  get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      if (typeof key !== "string") checkKey("get", key);
      if (this._closed) this._checkOpen("get", key);
      let value = this._get(key);
      if (value instanceof Promise) {
        return value.then((found) =>
          typeof found === "object" && isTagged(found)
            ? this.#openTagged(found).then((v) => this.#countRead(v, true))
            : this.#countRead(found)
        ) as Promise<T | undefined>;
      }
      // A getOrSet envelope is opened (a stale one is a miss); a plain value costs one typeof.
      if (typeof value === "object") {
        if (isTagged(value)) {
          return this.#openTagged(value).then((v) => this.#countRead(v, true)) as Promise<
            T | undefined
          >;
        }
        if (isEnvelope(value)) {
          value = openEntry(value, this.#now());
          if (value === undefined && !this.#counts) this.#hitWasMiss();
        }
      }
      if (this.#counts) this.#countRead(value);
      return Promise.resolve(value as T | undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Opens a getOrSet envelope (a stale one is a miss), counts the read as a hit or a miss
   * and returns the value. `wrapped`: the key held a tagged entry (opened by the caller).
   */
  #countRead(value: unknown, wrapped = false): unknown {
    if (typeof value === "object" && isEnvelope(value)) {
      value = openEntry(value, this.#now());
      wrapped = true;
    }
    if (this.#counts) {
      if (value === undefined) this._stats.misses++;
      else this._stats.hits++;
    } else if (wrapped && value === undefined) this.#hitWasMiss();
    return value;
  }

  /**
   * Corrections to an engine's own counters (MemoryCache's store), which see a stored entry
   * where a caller sees a miss (a stale envelope, an invalidated tagged entry) and count the
   * reads of tag versions: `stats()` applies them. Unused when the base class counts.
   */
  readonly #fix = { hits: 0, misses: 0 };

  /** An engine counted a hit for a read its caller sees as a miss. */
  #hitWasMiss(): void {
    this.#fix.hits--;
    this.#fix.misses++;
  }

  /** The values of `keys`, in order. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    checkKeys("getMany", keys);
    this._checkOpen("getMany");
    if (keys.length === 0) return [];
    let values = this._getMany(keys);
    if (values instanceof Promise) values = await values;
    // An engine that counts its own reads counted a hit for every entry it held: the tagged and
    // getOrSet entries among them that open to nothing are misses.
    let wrapped: number[] | undefined;
    if (!this.#counts) {
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (typeof value === "object" && (isTagged(value) || isEnvelope(value))) {
          (wrapped ??= []).push(i);
        }
      }
    }
    await this.#openAllTagged(values);
    let now: number | undefined;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (typeof value === "object" && isEnvelope(value)) {
        values[i] = openEntry(value, now ??= this.#now());
      }
    }
    if (wrapped !== undefined) {
      for (const i of wrapped) if (values[i] === undefined) this.#hitWasMiss();
    }
    if (this.#counts) {
      for (const value of values) {
        if (value === undefined) this._stats.misses++;
        else this._stats.hits++;
      }
    }
    return values as (T | undefined)[];
  }

  /** A map from each key to its value. */
  async getDict<T = unknown>(
    keys: readonly string[],
  ): Promise<Map<string, T | undefined>> {
    checkKeys("getDict", keys);
    const values = await this.getMany<T>(keys);
    const dict = new Map<string, T | undefined>();
    keys.forEach((key, i) => dict.set(key, values[i]));
    return dict;
  }

  /** Stores `value` under `key`. */
  set(key: string, value: unknown, ttl?: number | SetOptions): Promise<boolean> {
    return this.#store("set", key, value, ttl);
  }

  /** Stores `value` only when `key` holds no live entry. */
  add(key: string, value: unknown, ttl?: number | SetOptions): Promise<boolean> {
    return this.#store("add", key, value, ttl);
  }

  // `set` and `add` are one path that differs only in the hook.
  async #store(
    op: "set" | "add",
    key: string,
    value: unknown,
    third: number | SetOptions | undefined,
  ): Promise<boolean> {
    checkKey(op, key);
    const { ttl, tags } = splitSetOptions(op, key, third);
    const ms = resolveTtl(op, key, ttl as number | undefined, this.defaultTtl);
    checkValue(op, key, value);
    this._checkOpen(op, key);
    let stored = tags !== undefined
      ? this._setTagged(op, key, value, ms, tags)
      : op === "set"
      ? this._set(key, value, ms)
      : this.#add(key, value, ms);
    if (stored instanceof Promise) stored = await stored;
    if (stored && this.#counts) this._stats.sets++;
    return stored;
  }

  /**
   * `_add`, and when it finds the key taken, `_addOverDead`: a key that holds only an entry no
   * read returns (a stale getOrSet envelope, an invalidated tagged entry) is free for `add`.
   */
  #add(key: string, value: unknown, ttl: number): boolean | Promise<boolean> {
    const added = this._add(key, value, ttl);
    if (added instanceof Promise) {
      return added.then((done) => done || this._addOverDead(key, value, ttl, this.#dead));
    }
    return added || this._addOverDead(key, value, ttl, this.#dead);
  }

  /**
   * Called by `add` after `_add` found `key` taken: stores `value` in place of the entry held
   * there when `dead(stored)` says no read returns it (a stale getOrSet envelope, an invalidated
   * tagged entry), and resolves whether it stored. A backend whose `add` is atomic overrides
   * this with a compare-and-set on the entry it judged (Redis: a script comparing the bytes;
   * memcached: CAS; Deno KV: a versionstamp check; filesystem: the bytes under the key's lock;
   * MemoryCache: the stored object), so of two concurrent `add`s over one dead entry exactly
   * one stores. This default reads with `_peek`, then deletes and adds: not atomic (two `add`s
   * racing over one dead entry may both store); a cache over another `Cache` (a namespace view,
   * TieredCache) returns `false`, because the cache below already did this in its own `add`.
   * `inc`/`dec` over a dead entry and `touch` of a getOrSet entry store through this hook too
   * (their `dead` says which entry they judged); `touch` passes `ifAbsent: false`: a key found
   * empty stays empty (with `true`, the default, it is added to as by `_add`).
   */
  protected _addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): boolean | Promise<boolean> {
    return this.#deleteAndAdd(key, value, ttl, dead, ifAbsent);
  }

  async #deleteAndAdd(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent: boolean,
  ): Promise<boolean> {
    let stored: unknown;
    try {
      stored = await this._peek(key);
    } catch (error) {
      if (error instanceof SerializationError) return false;
      throw error;
    }
    // A key that emptied since `_add` found it taken is free for `add` (not for `touch`).
    if (stored === undefined) return ifAbsent && await this._add(key, value, ttl);
    if (!(await dead(stored))) return false;
    await this._delete(key);
    return await this._add(key, value, ttl);
  }

  /**
   * Whether this cache stores through another `Cache` (a namespace view, TieredCache) whose own
   * `add`, `inc`/`dec` and `touch` already treat dead and getOrSet entries: then `touch` goes
   * straight to `_touch` and a failed `_addToCounter` is not retried here.
   */
  protected get _layered(): boolean {
    return false;
  }

  /** `#isDead`, bound, for `_addOverDead`. */
  readonly #dead = (stored: unknown): boolean | Promise<boolean> => this.#isDead(stored);

  /**
   * Whether a stored value is an entry no plain read returns although the key holds it: a stale
   * getOrSet envelope, or a tagged entry one of whose tags was invalidated (or whose value is a
   * stale envelope). `add`, `inc`/`dec`, `has`, `ttl` and `touch` call such a key absent.
   */
  #isDead(stored: unknown): boolean | Promise<boolean> {
    if (typeof stored !== "object" || stored === null) return false;
    if (isTagged(stored)) {
      return this.#openTagged(stored).then((value) => value === undefined || this.#isStale(value));
    }
    return this.#isStale(stored);
  }

  /** Whether `value` is a getOrSet envelope past its ttl. */
  #isStale(value: unknown): boolean {
    return typeof value === "object" && isEnvelope(value) &&
      openEntry(value, this.#now()) === undefined;
  }

  /** Stores every entry. */
  async setMany(
    entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
    third?: number | SetOptions,
  ): Promise<string[]> {
    const pairs = entriesOf("setMany", entries);
    const first = pairs[0]?.[0];
    const { ttl, tags } = splitSetOptions("setMany", undefined, third);
    const ms = resolveTtl(
      "setMany",
      typeof first === "string" ? first : "",
      ttl as number | undefined,
      this.defaultTtl,
    );
    for (const [key, value] of pairs) {
      checkKey("setMany", key);
      checkValue("setMany", key, value);
    }
    this._checkOpen("setMany");
    if (pairs.length === 0) return [];
    // A key given twice is stored once, with its last value.
    const unique = pairs.length > 1 ? [...new Map(pairs)] : pairs;
    let stored = tags !== undefined
      ? Promise.all(unique.map(([key, value]) => this._setTagged("set", key, value, ms, tags)))
        .then((results) => unique.filter((_, i) => results[i]).map(([key]) => key))
      : this._setMany(unique, ms);
    if (stored instanceof Promise) stored = await stored;
    if (this.#counts) this._stats.sets += stored.length;
    return stored;
  }

  /** Removes `key`. */
  async delete(key: string): Promise<boolean> {
    checkKey("delete", key);
    this._checkOpen("delete", key);
    let removed = this._delete(key);
    if (removed instanceof Promise) removed = await removed;
    if (removed && this.#counts) this._stats.deletes++;
    return removed;
  }

  /** Removes every key given. */
  async deleteMany(keys: readonly string[]): Promise<string[]> {
    checkKeys("deleteMany", keys);
    this._checkOpen("deleteMany");
    if (keys.length === 0) return [];
    let removed = this._deleteMany(keys);
    if (removed instanceof Promise) removed = await removed;
    if (this.#counts) this._stats.deletes += removed.length;
    return removed;
  }

  /** Whether `key` holds a live entry. */
  async has(key: string): Promise<boolean> {
    checkKey("has", key);
    this._checkOpen("has", key);
    let found = this._has(key);
    if (found instanceof Promise) found = await found;
    if (found) {
      found = await this.#notStale(key);
      if (!found && !this.#counts) this.#hitWasMiss();
    }
    if (this.#counts) {
      if (found) this._stats.hits++;
      else this._stats.misses++;
    }
    return found;
  }

  /**
   * Whether a live key is not a stale getOrSet envelope (which `has` must call a miss): one
   * more read. An entry that cannot be read is live, as `has` says of it.
   */
  async #notStale(key: string): Promise<boolean> {
    let stored: unknown;
    try {
      stored = this._peek(key);
      if (stored instanceof Promise) stored = await stored;
    } catch (error) {
      if (error instanceof SerializationError) return true;
      throw error;
    }
    return stored !== undefined && !(await this.#isDead(stored));
  }

  /** Removes this cache's entries. */
  async clear(): Promise<boolean> {
    this._checkOpen("clear");
    return await this._clear();
  }

  /** Adds `delta` to the integer under `key`. */
  inc(key: string, delta?: number): Promise<number> {
    return this.#count("inc", key, delta);
  }

  /** Subtracts `delta` from the integer under `key`. */
  dec(key: string, delta?: number): Promise<number> {
    return this.#count("dec", key, delta);
  }

  // `inc` and `dec` are one path; `dec` is the one negation of the delta.
  async #count(op: CounterOp, key: string, delta: number | undefined): Promise<number> {
    checkKey(op, key);
    const by = checkDelta(op, key, delta);
    this._checkOpen(op, key);
    const amount = op === "dec" ? -by : by;
    let next: number | Promise<number>;
    for (let attempt = 1;; attempt++) {
      try {
        next = this._addToCounter(key, amount, this.defaultTtl, op);
        if (next instanceof Promise) next = await next;
        break;
      } catch (error) {
        // An entry no read returns is a missing key for a counter: replaced by `amount` through
        // the backend's compare-and-set on what was judged dead, so a write that lands between
        // the judgement and the store (a `set`, another `inc`) is never lost: it is counted on.
        // An entry that is no longer dead may be another caller's counter stored over it just
        // now: one more try, and a second failure over a live entry is the error.
        // Only "not an integer" (a TypeError) can be a dead entry: a failure (a timeout) is not
        // retried, so the call keeps its one deadline.
        if (this._layered || attempt === COUNTER_ATTEMPTS || !(error instanceof TypeError)) {
          throw error;
        }
        if (!(await this.#holdsDead(key))) {
          if (attempt > 1) throw error;
          continue;
        }
        let stored = this._addOverDead(key, amount, this.defaultTtl, this.#dead);
        if (stored instanceof Promise) stored = await stored;
        if (stored) {
          next = amount;
          break;
        }
      }
    }
    if (this.#counts) this._stats.sets++;
    return next;
  }

  /**
   * The cached value of `key`, or else `produce()`'s result, stored and returned; see
   * {@linkcode GetOrSetOptions} for serving stale values, timeouts and the lock.
   */
  getOrSet<T>(
    key: string,
    produce: Produce<T>,
    options?: number | GetOrSetOptions,
  ): Promise<T> {
    let resolved;
    try {
      checkKey("getOrSet", key);
      resolved = this.#producer.resolve(key, options);
      if (typeof produce !== "function") {
        throw new TypeError(
          `Cannot getOrSet key ${_describe(key)}: produce must be a function, received ${
            _describe(produce)
          }`,
        );
      }
      this._checkOpen("getOrSet", key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#producer.run(key, produce, resolved);
  }

  /**
   * Whether `key` holds an entry no read returns (a stale getOrSet envelope, an invalidated
   * tagged entry).
   */
  async #holdsDead(key: string): Promise<boolean> {
    let stored: unknown;
    try {
      stored = await this._peek(key);
    } catch {
      return false;
    }
    return stored !== undefined && await this.#isDead(stored);
  }

  /**
   * Counts what getOrSet read and returns it unopened: a value or a fresh envelope is a hit;
   * nothing, a stale envelope (even one served stale) or an invalidated tagged entry (`wrapped`:
   * the key held a tagged entry, opened by the caller) is a miss.
   */
  #countStored(value: unknown, wrapped = false): unknown {
    const miss = openEntry(value, this.#now()) === undefined;
    if (this.#counts) {
      if (miss) this._stats.misses++;
      else this._stats.hits++;
    } else if (miss && (wrapped || value !== undefined)) this.#hitWasMiss();
    return value;
  }

  /**
   * Counters of this instance since it was created. A read counts one hit when it returns a
   * value and one miss when it does not; a stale value getOrSet serves (staleWhileRevalidate,
   * grace) is a miss: the entry was past its ttl.
   */
  stats(): CacheStats {
    if (!this.#engineStats) return { ...this._stats };
    const stats = this.#engineStats();
    stats.hits += this.#fix.hits;
    stats.misses += this.#fix.misses;
    return stats;
  }

  /** Releases what the cache opened. Idempotent. */
  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    await this._close();
  }

  /** Closes the cache, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // TTL operations (issue 16): `ttl`, `touch`, `keys` and their hooks. A backend that cannot
  // do one leaves its hook to the default here, or overrides it to throw `_unsupported(…)`
  // with its own reason; either way the call rejects with `CacheUnsupportedError`.

  /**
   * The remaining lifetime of `key` in ms: `0` when it never expires, `undefined` on a miss.
   *
   * @throws {CacheUnsupportedError} The backend cannot read an entry's expiry.
   */
  async ttl(key: string): Promise<number | undefined> {
    checkKey("ttl", key);
    this._checkOpen("ttl", key);
    // A getOrSet entry lives to its logical expiry, not its physical one: one more read, sent
    // with the ttl's.
    const peeked = this.#peekQuietly(key);
    // Handled now: it may reject while the ttl read is awaited (awaited below all the same).
    peeked.catch(() => {});
    let left = this._ttl(key);
    if (left instanceof Promise) left = await left;
    const stored = await peeked;
    if (left === undefined) return undefined;
    if (typeof stored !== "object" || stored === null) return left;
    const inner = isTagged(stored) ? await this.#openTagged(stored) : stored;
    if (inner === undefined) return undefined;
    if (!isEnvelope(inner)) return left;
    const remaining = inner[ENVELOPE_MARK] + inner.t - this.#now();
    if (remaining <= 0) return undefined;
    return left === 0 ? remaining : Math.max(1, Math.min(left, remaining));
  }

  /** `_peek`, with an entry the serializer rejects read as a plain (present) value. */
  async #peekQuietly(key: string): Promise<unknown> {
    try {
      return await this._peek(key);
    } catch (error) {
      if (error instanceof SerializationError) return null;
      throw error;
    }
  }

  /**
   * Gives a live `key` a new expiry `ttl` ms from now (`0` = never, undefined = `defaultTtl`).
   *
   * @returns `true` when the key was live; `false` (nothing changed) on a miss.
   * @throws {CacheUnsupportedError} The backend cannot change an entry's expiry.
   */
  async touch(key: string, ttl?: number): Promise<boolean> {
    checkKey("touch", key);
    const ms = resolveTtl("touch", key, ttl, this.defaultTtl);
    this._checkOpen("touch", key);
    // An entry no read returns is not live; a getOrSet entry's logical ttl is in the entry.
    // A layered cache (TieredCache, a namespace view) leaves a fresh envelope to the cache below.
    for (let attempt = 1;; attempt++) {
      const stored = await this.#peekQuietly(key);
      if (typeof stored === "object" && stored !== null) {
        if (await this.#isDead(stored)) return false;
        const inner = isTagged(stored) ? stored.v : stored;
        if (isEnvelope(inner) && !this._layered) {
          const done = await this.#retouch(key, stored, inner, ms);
          if (done !== undefined) return done;
          if (attempt === COUNTER_ATTEMPTS) {
            throw new CacheError(
              `Cannot touch key ${_describe(key)}: the entry changed under ${attempt} attempts`,
              { op: "touch", key },
            );
          }
          continue;
        }
      }
      let live = this._touch(key, ms);
      if (live instanceof Promise) live = await live;
      return live;
    }
  }

  /**
   * `touch` of a fresh getOrSet entry: rewritten with the new logical ttl from now and the same
   * stale window after it (`ttl` 0: the bare value, never expiring), tags kept. The write is the
   * backend's compare-and-set (`_addOverDead`) on the entry read, so a write of the key that
   * lands in between is never overwritten by the older value, and a key deleted in between is
   * not revived; `undefined` when the entry changed (the caller reads again).
   */
  async #retouch(
    key: string,
    stored: object,
    entry: Envelope,
    ttl: number,
  ): Promise<boolean | undefined> {
    let left = this._ttl(key);
    if (left instanceof Promise) left = await left;
    if (left === undefined) return false;
    const now = this.#now();
    const window = left === 0 ? 0 : Math.max(0, left - (entry[ENVELOPE_MARK] + entry.t - now));
    const inner = ttl === 0 ? entry.v : wrapEntry(entry.v, now, ttl);
    const next = isTagged(stored) ? { [TAG_MARK]: stored[TAG_MARK], v: inner } : inner;
    const same = (current: unknown): boolean => sameStored(current, stored);
    let done = this._addOverDead(key, next, ttl === 0 ? 0 : ttl + window, same, false);
    if (done instanceof Promise) done = await done;
    return done ? true : undefined;
  }

  /**
   * This cache's live keys starting with `prefix` (default: every key), in no set order.
   * Checks run when the iteration starts; every step is bounded like a call of its own.
   * cachelib's own bookkeeping (keys beginning with `"\0cachelib:"`: tag versions, namespace
   * generations and entries, distributed locks) is not listed unless `prefix` begins with it.
   *
   * @throws {CacheUnsupportedError} The backend cannot list its keys (when iterated).
   */
  async *keys(prefix: string = ""): AsyncGenerator<string, void, undefined> {
    if (typeof prefix !== "string") {
      throw new TypeError(`Cannot keys: prefix must be a string, received ${_describe(prefix)}`);
    }
    this._checkOpen("keys");
    let listed = this._keys(prefix);
    if (listed instanceof Promise) listed = await listed;
    // cachelib's bookkeeping (tag versions, namespaces, locks) only when asked for by prefix
    const hide = !isReserved(prefix);
    for await (const key of listed) {
      if (this._closed) this._checkOpen("keys");
      if (hide && isReserved(key)) continue;
      yield key;
    }
  }

  /** The remaining ttl of `key` in ms (`0` = never), `undefined` on a miss. Default: unsupported. */
  protected _ttl(key: string): number | undefined | Promise<number | undefined> {
    throw this._unsupported("ttl", "it does not implement the _ttl hook", key);
  }

  /** Sets a live key's expiry (`ttl` resolved, `0` = never); `true` when it was live. */
  protected _touch(key: string, _ttl: number): boolean | Promise<boolean> {
    throw this._unsupported("touch", "it does not implement the _touch hook", key);
  }

  /** The live keys starting with `prefix` (the backend filters). Default: unsupported. */
  protected _keys(
    _prefix: string,
  ): Iterable<string> | AsyncIterable<string> | Promise<Iterable<string> | AsyncIterable<string>> {
    throw this._unsupported("keys", "it does not implement the _keys hook");
  }

  /** The error for an operation this backend cannot do, with the reason it cannot. */
  protected _unsupported(op: string, reason: string, key?: string): CacheUnsupportedError {
    return new CacheUnsupportedError(
      `Cannot ${_opAndKey(op, key)}: ${this.constructor.name} does not support ${op}(): ${reason}`,
      { op, key },
    );
  }

  /**
   * A view of this cache under its own prefix whose `clear()` drops only its entries, by one
   * generation bump (no scan); see {@linkcode NamespaceOptions} for how late another process
   * sees that `clear()`. Views nest: `cache.namespace("a").namespace("b")`.
   *
   * @throws {TypeError} `name` is not a string, or an unknown option.
   */
  namespace(name: string, options?: NamespaceOptions): NamespaceView {
    return createNamespace(this, name, options);
  }

  // Tags (issue 17): `set(key, value, { tags })` stores the tags' versions with the value; a
  // read compares them with the current ones (one batched read); `invalidateTags` bumps them.

  /**
   * Drops every entry stored with any of `tags` (one `inc` of each tag's version; entries age
   * out by their ttl). Entries without those tags are untouched.
   *
   * @throws {TypeError} `tags` is not an array of non-empty strings.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const checked = checkTags("invalidateTags", undefined, tags);
    this._checkOpen("invalidateTags");
    if (checked.length === 0) return;
    await this._invalidateTags(checked);
  }

  /** Bumps each tag's version (checked, distinct, non-empty). */
  protected async _invalidateTags(tags: readonly string[]): Promise<void> {
    await Promise.all(tags.map((tag) => this._addToCounter(tagKey(tag), 1, 0, "inc")));
  }

  /**
   * Stores `value` with `tags` (checked, distinct, non-empty) by `op`'s hook: the default wraps
   * it with the tags' current versions (created with a random start when missing). A cache over
   * another `Cache` (TieredCache, namespace views) overrides this to pass the tags down.
   */
  protected async _setTagged(
    op: "set" | "add",
    key: string,
    value: unknown,
    ttl: number,
    tags: readonly string[],
  ): Promise<boolean> {
    const keys = tags.map(tagKey);
    const versions = await this.#versions(tags);
    for (let i = 0; i < tags.length; i++) {
      if (typeof versions[i] === "number") continue;
      const start = randomStart();
      let created = this._add(keys[i]!, start, 0);
      if (created instanceof Promise) created = await created;
      versions[i] = created ? start : (await this.#versions([tags[i]!]))[0];
    }
    const entry: TaggedEntry = {
      [TAG_MARK]: tags.flatMap((tag, i) => [tag, versions[i] as number]),
      v: value,
    };
    return op === "set" ? await this._set(key, entry, ttl) : await this.#add(key, entry, ttl);
  }

  /**
   * The current versions of `tags` (one `_getMany`). They are bookkeeping, not reads of the
   * caller's: an engine that counts its own reads has them taken back out of its counters.
   */
  async #versions(tags: readonly string[]): Promise<unknown[]> {
    let versions = this._getMany(tags.map(tagKey));
    if (versions instanceof Promise) versions = await versions;
    if (!this.#counts) {
      for (const version of versions) {
        if (version === undefined) this.#fix.misses--;
        else this.#fix.hits--;
      }
    }
    return versions;
  }

  /** The value of a tagged entry, or `undefined` when one of its tags was invalidated. */
  async #openTagged(entry: TaggedEntry): Promise<unknown> {
    const tags = tagsOf([entry]);
    const versions = await this.#versions(tags);
    return stillValid(entry, new Map(tags.map((tag, i) => [tag, versions[i]])))
      ? entry.v
      : undefined;
  }

  /** Opens every tagged entry of `values` in place, with one read of all their tags' versions. */
  async #openAllTagged(values: unknown[]): Promise<void> {
    let tagged: TaggedEntry[] | undefined;
    for (const value of values) {
      if (typeof value === "object" && isTagged(value)) (tagged ??= []).push(value);
    }
    if (tagged === undefined) return;
    const tags = tagsOf(tagged);
    const read = await this.#versions(tags);
    const versions = new Map(tags.map((tag, i) => [tag, read[i]]));
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (typeof value === "object" && isTagged(value)) {
        values[i] = stillValid(value, versions) ? value.v : undefined;
      }
    }
  }
}

/** Options of the {@linkcode ByteCache} constructor. */
export interface ByteCacheOptions extends BaseCacheOptions {
  /** Turns values into bytes and back. Default {@linkcode defaultSerializer}. */
  serializer?: Serializer | undefined;
}

/**
 * The base of backends that store bytes (filesystem, Redis, memcached, uWSGI,
 * Deno KV): a {@linkcode BaseCache} with a serializer and the two calls that
 * use it, each failure a `SerializationError` naming the key.
 *
 * @example A backend that keeps serialized bytes in a Map
 * ```ts
 * import { ByteCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * class BytesInAMap extends ByteCache {
 *   #map = new Map<string, Uint8Array>();
 *   protected _get(key: string) {
 *     const bytes = this.#map.get(key);
 *     return bytes === undefined ? undefined : this._decode(key, bytes);
 *   }
 *   // _encode/_decode answer synchronously, or with a promise for an async serializer
 *   protected async _set(key: string, value: unknown) {
 *     this.#map.set(key, await this._encode("set", key, value));
 *     return true;
 *   }
 *   protected async _add(key: string, value: unknown) {
 *     const bytes = await this._encode("add", key, value);
 *     if (this.#map.has(key)) return false;
 *     this.#map.set(key, bytes);
 *     return true;
 *   }
 *   protected _delete(key: string) { return this.#map.delete(key); }
 *   protected _has(key: string) { return this.#map.has(key); }
 *   protected _clear() { this.#map.clear(); return true; }
 *   protected async _addToCounter(key: string, delta: number, _ttl: number, op: "inc" | "dec") {
 *     const next = ((await this._get(key)) as number | undefined ?? 0) + delta;
 *     this.#map.set(key, await this._encode(op, key, next));
 *     return next;
 *   }
 * }
 *
 * await using cache = new BytesInAMap();
 * await cache.set("a", { n: 1 });
 * assert.deepEqual(await cache.get("a"), { n: 1 });
 * await assert.rejects(cache.set("b", { run() {} }), { name: "SerializationError" });
 * ```
 */
export abstract class ByteCache extends BaseCache {
  /** Turns values into bytes and back. */
  readonly serializer: Serializer;
  /**
   * Whether the serializer never returns a promise (this library's synchronous
   * ones): a backend may then serialize inside a synchronous critical section.
   */
  protected readonly _syncSerializer: boolean;
  /** Whether the serializer's output is a fresh buffer (no copy needed to own it). */
  readonly #fresh: boolean;

  /**
   * Sets up the shared state and the serializer.
   *
   * @param options See {@linkcode ByteCacheOptions}.
   */
  constructor(options: ByteCacheOptions = {}) {
    super(options);
    this.serializer = options.serializer ?? defaultSerializer;
    this._syncSerializer = _synchronous.has(this.serializer);
    this.#fresh = _freshOutput.has(this.serializer);
  }

  /**
   * Serializes `value` for `key`: the bytes, or a promise of them when the
   * serializer is asynchronous. The bytes belong to the cache (copied unless
   * the serializer is known to return a fresh buffer); a failure, or a result
   * that is not a `Uint8Array`, is a `SerializationError` naming the key.
   */
  protected _encode(op: string, key: string, value: unknown): Uint8Array | Promise<Uint8Array> {
    let out: unknown;
    try {
      out = this.serializer.serialize(value);
    } catch (cause) {
      throw encodeError(op, key, cause);
    }
    if (out instanceof Uint8Array) return this.#fresh ? out : owned(out);
    if (isThenable(out)) {
      return Promise.resolve(out).then(
        (bytes) => {
          if (!(bytes instanceof Uint8Array)) throw notBytes(op, key, bytes);
          return this.#fresh ? bytes : owned(bytes);
        },
        (cause) => {
          throw encodeError(op, key, cause);
        },
      );
    }
    throw notBytes(op, key, out);
  }

  /**
   * Deserializes the bytes stored under `key`: the value, or a promise of it
   * when the serializer is asynchronous; a failure is a `SerializationError`
   * naming the key.
   */
  protected _decode(key: string, bytes: Uint8Array): unknown {
    let out: unknown;
    try {
      out = this.serializer.deserialize(bytes);
    } catch (cause) {
      throw decodeError(key, cause);
    }
    // No stored value is a promise (none can be serialized), so a promise is the serializer's.
    if (out instanceof Promise) {
      return out.then(undefined, (cause) => {
        throw decodeError(key, cause);
      });
    }
    return out;
  }
}

/** A copy of `bytes` as a plain `Uint8Array` over its own buffer. */
function owned(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise ||
    (typeof value === "object" && value !== null &&
      typeof (value as { then?: unknown }).then === "function");
}

/** What a serializer threw, as text: its message, or a description of a non-Error. */
function reason(cause: unknown): string {
  return cause instanceof Error
    ? cause.message
    : `the serializer threw ${_describe(cause)}, not an Error`;
}

function encodeError(op: string, key: string, cause: unknown): SerializationError {
  return new SerializationError(`Cannot ${op} key ${_describe(key)}: ${reason(cause)}`, {
    cause,
    op,
    key,
  });
}

function decodeError(key: string, cause: unknown): SerializationError {
  return new SerializationError(`Cannot read key ${_describe(key)}: ${reason(cause)}`, {
    cause,
    op: "read",
    key,
  });
}

function notBytes(op: string, key: string, out: unknown): SerializationError {
  return new SerializationError(
    `Cannot ${op} key ${_describe(key)}: the serializer returned ${
      _describe(out)
    }, not a Uint8Array`,
    { op, key },
  );
}
