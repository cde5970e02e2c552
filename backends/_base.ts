/**
 * The shared half of every backend: argument checks, ttl resolution, stats,
 * `getOrSet` with single-flight, `close` bookkeeping and the batch methods'
 * default loops. A backend implements the `_`-prefixed hooks, which receive
 * checked arguments and a resolved ttl, and overrides a batch hook when its
 * server can do better than a loop.
 *
 * @module
 */
import {
  _describe,
  type Cache,
  CacheError,
  type CacheStats,
  checkDefaultTtl,
  checkDelta,
  checkKey,
  checkKeys,
  checkValue,
  entriesOf,
  resolveTtl,
  SerializationError,
} from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";
import { defaultSerializer } from "../serializers/default.ts";

/**
 * Base class for backends: implements the whole {@linkcode Cache} interface
 * on top of a few protected hooks.
 *
 * @example A tiny backend over a Map (no expiry, for illustration)
 * ```ts
 * import { BaseCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * class MapCache extends BaseCache {
 *   #map = new Map<string, unknown>();
 *   protected _get(key: string) { return Promise.resolve(this.#map.get(key)); }
 *   protected _set(key: string, value: unknown) { this.#map.set(key, value); return Promise.resolve(true); }
 *   protected _add(key: string, value: unknown) {
 *     if (this.#map.has(key)) return Promise.resolve(false);
 *     this.#map.set(key, value);
 *     return Promise.resolve(true);
 *   }
 *   protected _delete(key: string) { return Promise.resolve(this.#map.delete(key)); }
 *   protected _has(key: string) { return Promise.resolve(this.#map.has(key)); }
 *   protected _clear() { this.#map.clear(); return Promise.resolve(true); }
 *   protected _inc(key: string, delta: number) {
 *     const next = ((this.#map.get(key) as number | undefined) ?? 0) + delta;
 *     this.#map.set(key, next);
 *     return Promise.resolve(next);
 *   }
 * }
 *
 * await using cache = new MapCache();
 * await cache.set("a", 1);
 * assert.equal(await cache.get("a"), 1);
 * ```
 */
export abstract class BaseCache implements Cache {
  /** The ttl in ms used when a call gives none; `0` = never expire. */
  readonly defaultTtl: number;
  /** Counters of this instance; backends add to them where the base cannot. */
  protected readonly _stats: CacheStats = {
    hits: 0,
    misses: 0,
    sets: 0,
    deletes: 0,
    evictions: 0,
  };
  /** Whether `close()` has been called. */
  protected _closed = false;
  #inflight = new Map<string, Promise<unknown>>();

  /** Turns values into bytes for backends that store bytes. */
  readonly serializer: Serializer;

  /**
   * Sets up the shared state.
   *
   * @param options `defaultTtl` in ms (default 300 000; `0` = never expire);
   * `serializer` for backends that store bytes (default {@linkcode defaultSerializer}).
   */
  constructor(
    options: { defaultTtl?: number | undefined; serializer?: Serializer | undefined } = {},
  ) {
    this.defaultTtl = checkDefaultTtl(options.defaultTtl);
    this.serializer = options.serializer ?? defaultSerializer;
  }

  /** Serializes `value` for `key`; a failure is a `SerializationError` naming the key. */
  protected _encode(op: string, key: string, value: unknown): Uint8Array {
    try {
      return this.serializer.serialize(value);
    } catch (cause) {
      throw new SerializationError(
        `Cannot ${op} key ${_describe(key)}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /** Deserializes the bytes stored under `key`; a failure is a `SerializationError` naming the key. */
  protected _decode(key: string, bytes: Uint8Array): unknown {
    try {
      return this.serializer.deserialize(bytes);
    } catch (cause) {
      throw new SerializationError(
        `Cannot read key ${_describe(key)}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /** Reads one key; resolves to `undefined` on a miss. */
  protected abstract _get(key: string): Promise<unknown>;
  /** Stores one entry; `ttl` is resolved (`0` = never). */
  protected abstract _set(key: string, value: unknown, ttl: number): Promise<boolean>;
  /** Stores one entry only when the key holds no live entry. */
  protected abstract _add(key: string, value: unknown, ttl: number): Promise<boolean>;
  /** Removes one key; `true` when a live entry was removed. */
  protected abstract _delete(key: string): Promise<boolean>;
  /** Whether the key holds a live entry. */
  protected abstract _has(key: string): Promise<boolean>;
  /** Removes this cache's entries. */
  protected abstract _clear(): Promise<boolean>;
  /**
   * Adds `delta` to the integer under `key`, creating it with `ttl` when missing.
   * `op` names the public call (`dec` passes a negated delta) for error messages.
   */
  protected abstract _inc(
    key: string,
    delta: number,
    ttl: number,
    op: "inc" | "dec",
  ): Promise<number>;

  /** Reads several keys; the default is one `_get` per distinct key, concurrently. */
  protected async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const distinct = [...new Set(keys)];
    const values = await Promise.all(distinct.map((key) => this._get(key)));
    const byKey = new Map(distinct.map((key, i) => [key, values[i]]));
    return keys.map((key) => byKey.get(key));
  }

  /** Stores several entries; the default is one `_set` each, concurrently. */
  protected async _setMany(
    entries: [string, unknown][],
    ttl: number,
  ): Promise<string[]> {
    const results = await Promise.all(
      entries.map(([key, value]) => this._set(key, value, ttl)),
    );
    return entries.filter((_, i) => results[i]).map(([key]) => key);
  }

  /** Removes several keys; the default is one `_delete` per distinct key. */
  protected async _deleteMany(keys: readonly string[]): Promise<string[]> {
    const distinct = [...new Set(keys)];
    const results = await Promise.all(distinct.map((key) => this._delete(key)));
    return distinct.filter((_, i) => results[i]);
  }

  /** Releases resources; called once by `close()`. */
  protected _close(): Promise<void> {
    return Promise.resolve();
  }

  /** Throws a `CacheError` when the cache is closed. */
  protected _checkOpen(op: string, key?: string): void {
    if (this._closed) {
      const what = key === undefined ? op : `${op} key ${_describe(key)}`;
      throw new CacheError(`Cannot ${what}: the cache is closed`);
    }
  }

  /** The value under `key` (a copy), or `undefined`; skips the base class's bookkeeping. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    checkKey("get", key);
    this._checkOpen("get", key);
    const value = await this._get(key);
    if (value === undefined) this._stats.misses++;
    else this._stats.hits++;
    return value as T | undefined;
  }

  /** The values of `keys`, in order. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    checkKeys("getMany", keys);
    this._checkOpen("getMany");
    if (keys.length === 0) return [];
    const values = await this._getMany(keys);
    for (const value of values) {
      if (value === undefined) this._stats.misses++;
      else this._stats.hits++;
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
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    checkKey("set", key);
    const ms = resolveTtl("set", key, ttl, this.defaultTtl);
    checkValue("set", key, value);
    this._checkOpen("set", key);
    const stored = await this._set(key, value, ms);
    if (stored) this._stats.sets++;
    return stored;
  }

  /** Stores `value` only when `key` holds no live entry. */
  async add(key: string, value: unknown, ttl?: number): Promise<boolean> {
    checkKey("add", key);
    const ms = resolveTtl("add", key, ttl, this.defaultTtl);
    checkValue("add", key, value);
    this._checkOpen("add", key);
    const stored = await this._add(key, value, ms);
    if (stored) this._stats.sets++;
    return stored;
  }

  /** Stores every entry. */
  async setMany(
    entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
    ttl?: number,
  ): Promise<string[]> {
    const pairs = entriesOf("setMany", entries);
    const first = pairs[0]?.[0];
    const ms = resolveTtl("setMany", typeof first === "string" ? first : "", ttl, this.defaultTtl);
    for (const [key, value] of pairs) {
      checkKey("setMany", key);
      checkValue("setMany", key, value);
    }
    this._checkOpen("setMany");
    if (pairs.length === 0) return [];
    // A key given twice is stored once, with its last value.
    const unique = pairs.length > 1 ? [...new Map(pairs)] : pairs;
    const stored = await this._setMany(unique, ms);
    this._stats.sets += stored.length;
    return stored;
  }

  /** Removes `key`. */
  async delete(key: string): Promise<boolean> {
    checkKey("delete", key);
    this._checkOpen("delete", key);
    const removed = await this._delete(key);
    if (removed) this._stats.deletes++;
    return removed;
  }

  /** Removes every key given. */
  async deleteMany(keys: readonly string[]): Promise<string[]> {
    checkKeys("deleteMany", keys);
    this._checkOpen("deleteMany");
    if (keys.length === 0) return [];
    const removed = await this._deleteMany(keys);
    this._stats.deletes += removed.length;
    return removed;
  }

  /** Whether `key` holds a live entry. */
  async has(key: string): Promise<boolean> {
    checkKey("has", key);
    this._checkOpen("has", key);
    const found = await this._has(key);
    if (found) this._stats.hits++;
    else this._stats.misses++;
    return found;
  }

  /** Removes this cache's entries. */
  async clear(): Promise<boolean> {
    this._checkOpen("clear");
    return await this._clear();
  }

  /** Adds `delta` to the integer under `key`. */
  async inc(key: string, delta?: number): Promise<number> {
    checkKey("inc", key);
    const by = checkDelta("inc", key, delta);
    this._checkOpen("inc", key);
    const next = await this._inc(key, by, this.defaultTtl, "inc");
    this._stats.sets++;
    return next;
  }

  /** Subtracts `delta` from the integer under `key`. */
  async dec(key: string, delta?: number): Promise<number> {
    checkKey("dec", key);
    const by = checkDelta("dec", key, delta);
    this._checkOpen("dec", key);
    const next = await this._inc(key, -by, this.defaultTtl, "dec");
    this._stats.sets++;
    return next;
  }

  /** The cached value of `key`, or else `produce()`'s result, stored and returned. */
  getOrSet<T>(
    key: string,
    produce: () => T | Promise<T>,
    ttl?: number,
  ): Promise<T> {
    try {
      checkKey("getOrSet", key);
      resolveTtl("getOrSet", key, ttl, this.defaultTtl);
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
    return (this.#inflight.get(key) as Promise<T> | undefined) ??
      this.#getOrProduce(key, produce, ttl);
  }

  // A hit is one `get`; only a miss registers the producing call, which later
  // callers for the key join until it has stored its value.
  async #getOrProduce<T>(
    key: string,
    produce: () => T | Promise<T>,
    ttl: number | undefined,
  ): Promise<T> {
    const hit = await this.get<T>(key);
    if (hit !== undefined) return hit;
    const pending = this.#inflight.get(key);
    if (pending) return pending as Promise<T>;
    const run: Promise<T> = (async () => {
      const value = await produce();
      await this.set(key, value, ttl);
      return value;
    })().finally(() => {
      if (this.#inflight.get(key) === run) this.#inflight.delete(key);
    });
    this.#inflight.set(key, run);
    return await run;
  }

  /** Counters of this instance since it was created. */
  stats(): CacheStats {
    return { ...this._stats };
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
}
