/**
 * TieredCache: a {@linkcode MemoryCache} (L1) in front of a shared cache (L2), kept coherent
 * across instances by an invalidation bus.
 *
 * @module
 */
import {
  type Cache,
  CacheConnectionError,
  CacheUnsupportedError,
  checkDefaultTtl,
  checkOptionNames,
} from "../cache.ts";
import { _entryOf, BaseCache, type CounterOp } from "./_base.ts";
import type { MemoryCache } from "./memory.ts";
import type { MemoryStore } from "./memory/store.ts";
import { type BusMessage, type InvalidationBus, parseMessage } from "./tiered/_bus.ts";

/** Options of {@linkcode TieredCache}. */
export interface TieredCacheOptions {
  /** The in-process tier: a `MemoryCache` (its store is read synchronously). Closed with this. */
  l1: MemoryCache;
  /** The shared tier: any `Cache`. Closed with this. */
  l2: Cache;
  /** Evicts written keys from the L1 of every other instance. Closed with this. */
  bus?: InvalidationBus | undefined;
  /**
   * `true`: an L2 outage (`CacheConnectionError`) degrades to L1 only — reads miss or hit L1,
   * writes go to L1 (bounded by `l1MaxTtl`). Default `false`: the error reaches the caller.
   */
  failOpen?: boolean | undefined;
  /** The ttl in ms of a write that gives none; `0` = never. Default L2's `defaultTtl` or 300 000. */
  defaultTtl?: number | undefined;
  /**
   * The longest an entry lives in L1, in ms, whatever its L2 ttl: the bound on how long a lost
   * bus message can leave a stale entry. `0` = no bound (only with no bus). Default 60 000.
   */
  l1MaxTtl?: number | undefined;
  /**
   * The clock (ms) that judges `getOrSet`'s stale entries, as the tiers' own `now` options do;
   * give the same clock as the tiers. Default `Date.now`.
   */
  now?: (() => number) | undefined;
}

const OPTION_NAMES = ["l1", "l2", "bus", "failOpen", "defaultTtl", "l1MaxTtl", "now"] as const;

/**
 * A two-tier cache: reads try the in-process L1, then the shared L2 (filling L1 for the entry's
 * remaining ttl, at most `l1MaxTtl`); writes go to L2, then L1, then the bus, which evicts the
 * keys from every other instance's L1. An L1 hit is a synchronous read of L1's store.
 *
 * @example Memory over memory, two instances kept coherent by a BroadcastChannel
 * ```ts
 * import { BroadcastChannelBus, TieredCache } from "@cachelib/cachelib/tiered";
 * import { MemoryCache } from "@cachelib/cachelib/memory";
 * import assert from "node:assert/strict";
 *
 * const shared = new MemoryCache(); // stands in for Redis or Deno KV
 * const tier = () =>
 *   new TieredCache({
 *     l1: new MemoryCache(),
 *     l2: shared,
 *     bus: new BroadcastChannelBus("doc-example"),
 *   });
 * const a = tier();
 * const b = tier();
 * await a.set("user:1", "Ada");
 * assert.equal(await b.get("user:1"), "Ada"); // from L2, now in b's L1 too
 * await a.set("user:1", "Grace");
 * await new Promise((resolve) => setTimeout(resolve, 50)); // the bus message arrives
 * assert.equal(await b.get("user:1"), "Grace"); // b's L1 copy was evicted
 * await b.close(); // closes its bus and its L1 (and the shared L2: a closes it again, a no-op)
 * await a.close();
 * ```
 */
export class TieredCache extends BaseCache {
  readonly #l1: MemoryCache;
  readonly #store: MemoryStore;
  readonly #l2: Cache;
  readonly #bus: InvalidationBus | undefined;
  readonly #failOpen: boolean;
  readonly #l1MaxTtl: number;
  readonly #id = crypto.randomUUID();
  #sequence = 0;
  /** Bumped by every eviction: an L2 read that spans one does not fill L1. */
  #epoch = 0;
  /** The last sequence number seen from each other instance. */
  readonly #seen = new Map<string, number>();
  #ttlUnsupported = false;

  /**
   * Wires the tiers and subscribes to the bus.
   *
   * @param options See {@linkcode TieredCacheOptions}.
   * @throws {TypeError} An unknown option, or `l1`/`l2` missing.
   */
  constructor(options: TieredCacheOptions) {
    checkOptionNames("TieredCache", options, OPTION_NAMES);
    const { l1, l2, bus } = options ?? {};
    const store = (l1 as { store?: MemoryStore } | undefined)?.store;
    if (typeof store?._ttl !== "function") {
      throw new TypeError("Cannot create TieredCache: l1 must be a MemoryCache");
    }
    if (typeof l2?.get !== "function" || typeof l2.ttl !== "function") {
      throw new TypeError("Cannot create TieredCache: l2 must be a Cache");
    }
    super({
      defaultTtl: options.defaultTtl ?? (l2 as { defaultTtl?: number }).defaultTtl,
      now: options.now,
    });
    this.#l1 = l1;
    this.#store = store;
    this.#l2 = l2;
    this.#bus = bus;
    this.#failOpen = options.failOpen === true;
    this.#l1MaxTtl = checkDefaultTtl(options.l1MaxTtl ?? 60_000, "TieredCache");
    bus?.subscribe({
      message: (text) => this.#receive(text),
      reset: () => this.#evict(undefined),
    });
  }

  /** Whether L1 may take entries: the bus (if any) is delivering. */
  get #live(): boolean {
    return this.#bus?.live !== false;
  }

  /** The L1 ttl for an entry that lives `ttl` ms more in L2 (`0` = never). */
  #l1Ttl(ttl: number): number {
    if (this.#l1MaxTtl === 0) return ttl;
    return ttl === 0 ? this.#l1MaxTtl : Math.min(ttl, this.#l1MaxTtl);
  }

  /** Puts a written entry in L1 (while the bus delivers). */
  #fill(key: string, value: unknown, ttl: number): void {
    if (this.#live) this.#store._set(key, value, this.#l1Ttl(ttl));
  }

  /** Evicts `keys` (every key when `undefined`) from L1. */
  #evict(keys: readonly string[] | undefined): void {
    this.#epoch++;
    if (keys === undefined) this.#store.clear();
    else for (const key of keys) this.#store._delete(key);
  }

  #receive(text: string): void {
    const message = parseMessage(text);
    if (message === undefined || message.o === this.#id || this._closed) return;
    const last = this.#seen.get(message.o);
    this.#seen.set(message.o, message.s);
    // A gap in an instance's sequence means a message was lost: nothing in L1 can be trusted.
    if (last !== undefined && message.s !== last + 1) this.#evict(undefined);
    else this.#evict(message.all ? undefined : message.k);
  }

  /** Evicts locally and tells the other instances. */
  async #invalidate(keys: readonly string[] | undefined): Promise<void> {
    this.#evict(keys);
    if (this.#bus === undefined) return;
    const message: BusMessage = { o: this.#id, s: ++this.#sequence };
    if (keys === undefined) message.all = true;
    else message.k = [...keys];
    try {
      await this.#bus.publish(JSON.stringify(message));
    } catch (cause) {
      if (this.#failOpen) return;
      throw new CacheConnectionError(
        `Cannot invalidate ${keys === undefined ? "every key" : `${keys.length} key(s)`} ` +
          `on the bus: ${(cause as Error)?.message ?? cause}`,
        { cause },
      );
    }
  }

  /** Runs an L2 call; an outage gives `fallback()` when failing open. */
  async #shared<T>(call: () => Promise<T>, fallback: () => T): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (this.#failOpen && error instanceof CacheConnectionError) return fallback();
      throw error;
    }
  }

  /** The L1 hit, synchronously; else a promise of L2's answer. */
  protected _get(key: string): unknown {
    const hit = this.#store.get(key);
    return hit !== undefined ? hit : this.#fromL2(key);
  }

  /**
   * `getOrSet`'s read: the L1 entry, else L2's entry as getOrSet sees it, so a stale entry kept
   * there for `staleWhileRevalidate` or `grace` is served after L1 has dropped its copy (L2's
   * plain `get` would call it a miss). L1 is filled only while the entry is fresh: L2's `ttl()`
   * is its logical ttl, `undefined` once it is stale.
   */
  protected override _getEntry(key: string): unknown {
    const hit = this.#store.get(key);
    return hit !== undefined ? hit : this.#fromL2(key, true);
  }

  async #fromL2(key: string, entry = false): Promise<unknown> {
    const epoch = this.#epoch;
    const l2 = this.#l2;
    const read = entry && l2 instanceof BaseCache ? () => _entryOf(l2, key) : () => l2.get(key);
    const [value, ttl] = await this.#shared(
      () => Promise.all([read(), this.#remaining(key)]),
      () => [undefined, undefined],
    );
    if (value !== undefined && ttl !== undefined && epoch === this.#epoch && this.#live) {
      this.#store._set(key, value, this.#l1Ttl(ttl));
    }
    return value;
  }

  /** L2's remaining ttl of `key`, or the L1 bound when L2 cannot tell. */
  async #remaining(key: string): Promise<number | undefined> {
    if (this.#ttlUnsupported) return this.#l1MaxTtl || this.#l1.defaultTtl;
    try {
      return await this.#l2.ttl(key);
    } catch (error) {
      if (!(error instanceof CacheUnsupportedError)) throw error;
      this.#ttlUnsupported = true;
      return this.#l1MaxTtl || this.#l1.defaultTtl;
    }
  }

  /** L1 for each key; one L2 `getMany` (and ttls) for the L1 misses. */
  protected override async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const values = keys.map((key) => this.#store.get(key));
    const missing = [...new Set(keys.filter((_, i) => values[i] === undefined))];
    if (missing.length === 0) return values;
    const epoch = this.#epoch;
    const [found, ttls] = await this.#shared(
      () =>
        Promise.all([
          this.#l2.getMany(missing),
          Promise.all(missing.map((key) => this.#remaining(key))),
        ]),
      () => [[], []],
    );
    const byKey = new Map<string, unknown>();
    missing.forEach((key, i) => {
      const value = found[i];
      const ttl = ttls[i];
      byKey.set(key, value);
      if (value !== undefined && ttl !== undefined && epoch === this.#epoch && this.#live) {
        this.#store._set(key, value, this.#l1Ttl(ttl));
      }
    });
    return keys.map((key, i) => values[i] !== undefined ? values[i] : byKey.get(key));
  }

  /** L2, then the bus and this L1. */
  protected async _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    const stored = await this.#shared(() => this.#l2.set(key, value, ttl), () => true);
    await this.#invalidate([key]);
    if (stored) this.#fill(key, value, ttl);
    return stored;
  }

  /** L2's atomic add; when it stored, the bus and this L1. */
  protected async _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const stored = await this.#shared(
      () => this.#l2.add(key, value, ttl),
      () => this.#store._add(key, value, this.#l1Ttl(ttl)),
    );
    if (!stored) return false;
    await this.#invalidate([key]);
    this.#fill(key, value, ttl);
    return true;
  }

  /** L2's `add` already stored over an entry no read returns (see `BaseCache._addOverDead`). */
  protected override _addOverDead(): boolean {
    return false;
  }

  /** L2's `inc`/`dec` and `touch` already treat dead and getOrSet entries. */
  protected override get _layered(): boolean {
    return true;
  }

  /** One L2 `setMany`, then one bus message and this L1. */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const stored = await this.#shared(
      () => this.#l2.setMany(entries, ttl),
      () => entries.map(([key]) => key),
    );
    await this.#invalidate(entries.map(([key]) => key));
    const kept = new Set(stored);
    for (const [key, value] of entries) {
      if (kept.has(key)) this.#fill(key, value, ttl);
    }
    return stored;
  }

  /** L2, then every L1. */
  protected async _delete(key: string): Promise<boolean> {
    const live = this.#store._has(key);
    const removed = await this.#shared(() => this.#l2.delete(key), () => live);
    await this.#invalidate([key]);
    return removed;
  }

  /** One L2 `deleteMany`, then one bus message for every L1. */
  protected override async _deleteMany(keys: readonly string[]): Promise<string[]> {
    const distinct = [...new Set(keys)];
    const live = distinct.filter((key) => this.#store._has(key));
    const removed = await this.#shared(() => this.#l2.deleteMany(distinct), () => live);
    await this.#invalidate(distinct);
    return removed;
  }

  /** L1, else L2. */
  protected _has(key: string): boolean | Promise<boolean> {
    if (this.#store._has(key)) return true;
    return this.#shared(() => this.#l2.has(key), () => false);
  }

  /** L2, then every L1 (one bus message). */
  protected async _clear(): Promise<boolean> {
    const cleared = await this.#shared(() => this.#l2.clear(), () => true);
    await this.#invalidate(undefined);
    return cleared;
  }

  /** Counts in L2 (atomic there); L1 drops its copy, so the next read takes L2's. */
  protected async _addToCounter(
    key: string,
    delta: number,
    _ttl: number,
    op: CounterOp,
  ): Promise<number> {
    const next = await this.#shared(
      () => op === "inc" ? this.#l2.inc(key, delta) : this.#l2.dec(key, -delta),
      () => this.#store._addToCounter(op, key, delta),
    );
    if (this._closed) return next;
    await this.#invalidate([key]);
    return next;
  }

  /** L2's remaining ttl (L1's during an outage when failing open). */
  protected override _ttl(key: string): Promise<number | undefined> {
    return this.#shared(() => this.#l2.ttl(key), () => this.#store._ttl(key));
  }

  /** A new expiry in L2; every L1 drops its copy. */
  protected override async _touch(key: string, ttl: number): Promise<boolean> {
    const live = await this.#shared(() => this.#l2.touch(key, ttl), () => false);
    await this.#invalidate([key]);
    return live;
  }

  /**
   * Tags live in L2 (it wraps and opens tagged entries); every L1 drops its copy of `key`, and
   * this L1 is not filled: the next read takes L2's answer.
   */
  protected override async _setTagged(
    op: "set" | "add",
    key: string,
    value: unknown,
    ttl: number,
    tags: readonly string[],
  ): Promise<boolean> {
    const stored = await this.#shared(() => this.#l2[op](key, value, { ttl, tags }), () => false);
    await this.#invalidate([key]);
    return stored;
  }

  /**
   * L2 bumps the tags; then every L1 is cleared (one bus message): L1 does not know which of its
   * entries (filled from L2 reads) carry the tags.
   */
  protected override async _invalidateTags(tags: readonly string[]): Promise<void> {
    await this.#shared(() => this.#l2.invalidateTags(tags), () => undefined);
    await this.#invalidate(undefined);
  }

  /** L2's keys. */
  protected override _keys(prefix: string): AsyncIterable<string> {
    return this.#l2.keys(prefix);
  }

  /** Closes the bus, then both tiers. */
  protected override async _close(): Promise<void> {
    try {
      await this.#bus?.close();
    } finally {
      await Promise.all([this.#l1.close(), this.#l2.close()]);
    }
  }
}
