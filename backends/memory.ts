/**
 * {@linkcode MemoryCache}: the async {@linkcode Cache} over a
 * {@linkcode MemoryStore}. Runs everywhere, Deno Deploy included.
 *
 * @module
 */
import { checkOptionNames } from "../cache.ts";
import { BaseCache, type CounterOp } from "./_base.ts";
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
    super({ defaultTtl: store.defaultTtl, stats: () => store.stats(), now: options.now });
    this.store = store;
  }

  // Every hook answers synchronously, and the base class has checked the
  // arguments, so each goes to the store's unchecked twin; the store keeps the
  // counters (`stats()` reads them).
  /** Reads one key from the store. */
  protected _get(key: string): unknown {
    return this.store.get(key);
  }

  /** Reads several keys in one pass. */
  protected override _getMany(keys: readonly string[]): unknown[] {
    return keys.map((key) => this.store.get(key));
  }

  /** Writes one entry. */
  protected _set(key: string, value: unknown, ttl: number): boolean {
    return this.store._set(key, value, ttl);
  }

  /** Writes one entry if the key is free. */
  protected _add(key: string, value: unknown, ttl: number): boolean {
    return this.store._add(key, value, ttl);
  }

  /** Writes several entries in one pass. */
  protected override _setMany(entries: [string, unknown][], ttl: number): string[] {
    return entries.filter(([key, value]) => this.store._set(key, value, ttl)).map(([key]) => key);
  }

  /** Removes one key. */
  protected _delete(key: string): boolean {
    return this.store._delete(key);
  }

  /** Removes several keys in one pass. */
  protected override _deleteMany(keys: readonly string[]): string[] {
    return keys.filter((key) => this.store._delete(key));
  }

  /** Reads one key for getOrSet: an envelope's value is copied, not the envelope. */
  protected override _getEntry(key: string): unknown {
    return this.store._getEntry(key);
  }

  /** Reads one key for a look, uncounted and uncopied. */
  protected override _peek(key: string): unknown {
    return this.store._peek(key);
  }

  /**
   * `add` over an entry no read returns (a stale getOrSet envelope, an invalidated tagged
   * entry): replaced while the store still holds that very object, so of two concurrent `add`s
   * one stores. Synchronous unless judging the entry needs its tags' versions.
   */
  protected override _addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): boolean | Promise<boolean> {
    const stored = this.store._peek(key);
    if (stored === undefined) return ifAbsent && this.store._add(key, value, ttl);
    const verdict = dead(stored);
    if (typeof verdict === "boolean") return verdict && this.store._set(key, value, ttl);
    return verdict.then((isDead) => {
      if (!isDead) return false;
      const now = this.store._peek(key);
      if (now === stored) return this.store._set(key, value, ttl);
      return now === undefined && ifAbsent && this.store._add(key, value, ttl);
    });
  }

  /** Checks one key. */
  protected _has(key: string): boolean {
    return this.store._has(key);
  }

  /** Removes every entry. */
  protected _clear(): boolean {
    this.store.clear();
    return true;
  }

  /** Adds to a counter (`dec` arrives negated). */
  protected _addToCounter(key: string, delta: number, _ttl: number, op: CounterOp): number {
    return this.store._addToCounter(op, key, delta);
  }

  /** The remaining ttl, from the store. */
  protected override _ttl(key: string): number | undefined {
    return this.store._ttl(key);
  }

  /** A new expiry, in the store. */
  protected override _touch(key: string, ttl: number): boolean {
    return this.store._touch(key, ttl);
  }

  /** The store's live keys. */
  protected override _keys(prefix: string): Iterable<string> {
    return this.store.keys(prefix);
  }
}
