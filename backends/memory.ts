/**
 * {@linkcode MemoryCache}: the async {@linkcode Cache} over a
 * {@linkcode MemoryStore}. Runs everywhere, Deno Deploy included.
 *
 * @module
 */
import { type CacheStats, checkOptionNames } from "../cache.ts";
import { BaseCache } from "./_base.ts";
import { MemoryStore, type MemoryStoreOptions } from "./memory/store.ts";

/** Options of {@linkcode MemoryCache}: those of {@linkcode MemoryStore}. */
export type MemoryCacheOptions = MemoryStoreOptions;

/** Every option name MemoryCache accepts; the type check fails when the store gains one. */
const OPTION_NAMES = [
  "clone",
  "defaultTtl",
  "maxBytes",
  "maxEntries",
  "now",
  "onEvict",
  "policy",
  "sizeOf",
] as const satisfies readonly (keyof MemoryStoreOptions)[];
type Unlisted = Exclude<keyof MemoryStoreOptions, typeof OPTION_NAMES[number]>;
const _everyOptionListed: [Unlisted] extends [never] ? true : Unlisted = true;

/**
 * An in-process cache: bounded (500 entries by default), with TTLs, an
 * eviction policy and copy semantics (values are structured-cloned in and
 * out, so mutating a value read back never changes the cache).
 *
 * @example Cache a slow lookup for a minute
 * ```ts
 * import { MemoryCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new MemoryCache({ maxEntries: 10_000, defaultTtl: 60_000 });
 * await cache.set("user:1", { name: "Ada" });
 * assert.deepEqual(await cache.get("user:1"), { name: "Ada" });
 * assert.equal(await cache.inc("visits"), 1);
 * assert.deepEqual(cache.stats(), { hits: 1, misses: 0, sets: 2, deletes: 0, evictions: 0 });
 * ```
 */
export class MemoryCache extends BaseCache {
  /** The synchronous engine, for callers that want to skip the promises. */
  readonly store: MemoryStore;

  /**
   * Creates an empty cache.
   *
   * @param options See {@linkcode MemoryStoreOptions}.
   * @throws {TypeError} An unknown option name, listing the accepted ones.
   */
  constructor(options: MemoryCacheOptions = {}) {
    checkOptionNames("MemoryCache", options, OPTION_NAMES);
    const store = new MemoryStore(options);
    super({ defaultTtl: store.defaultTtl });
    this.store = store;
  }

  // The hot path skips the base class's bookkeeping: the store checks the key
  // and keeps the counters itself.
  /** The value under `key` (a copy), or `undefined`; skips the base class's bookkeeping. */
  override get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      if (this._closed) this._checkOpen("get", key);
      return Promise.resolve(this.store.get<T>(key));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Counters of this instance since it was created. */
  override stats(): CacheStats {
    return this.store.stats();
  }

  /** Reads one key from the store. */
  protected _get(key: string): Promise<unknown> {
    return Promise.resolve(this.store.get(key));
  }

  /** Reads several keys in one pass. */
  protected override _getMany(keys: readonly string[]): Promise<unknown[]> {
    return Promise.resolve(keys.map((key) => this.store.get(key)));
  }

  /** Writes one entry. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return Promise.resolve(this.store.set(key, value, ttl));
  }

  /** Writes one entry if the key is free. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    return Promise.resolve(this.store.add(key, value, ttl));
  }

  /** Writes several entries in one pass. */
  protected override _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    return Promise.resolve(
      entries.filter(([key, value]) => this.store.set(key, value, ttl)).map(([key]) => key),
    );
  }

  /** Removes one key. */
  protected _delete(key: string): Promise<boolean> {
    return Promise.resolve(this.store.delete(key));
  }

  /** Removes several keys in one pass. */
  protected override _deleteMany(keys: readonly string[]): Promise<string[]> {
    return Promise.resolve(keys.filter((key) => this.store.delete(key)));
  }

  /** Checks one key. */
  protected _has(key: string): Promise<boolean> {
    return Promise.resolve(this.store.has(key));
  }

  /** Removes every entry. */
  protected _clear(): Promise<boolean> {
    this.store.clear();
    return Promise.resolve(true);
  }

  /** Adds to a counter. */
  protected _inc(key: string, delta: number, _ttl: number, op: "inc" | "dec"): Promise<number> {
    return Promise.resolve(op === "dec" ? this.store.dec(key, -delta) : this.store.inc(key, delta));
  }
}
