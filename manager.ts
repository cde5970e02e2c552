/**
 * {@linkcode CacheManager}: named caches built from settings on first use.
 *
 * @module
 */
import { _describe, type Cache } from "./cache.ts";
import { MemoryCache, type MemoryCacheOptions } from "./backends/memory.ts";
import { cacheFromUrl } from "./url.ts";

/**
 * The settings of one named cache for the default factory: a cache URL (see
 * `cacheFromUrl`) with more constructor options, or `MemoryCache` options.
 */
export type CacheSettings =
  | ({ url: string } & Record<string, unknown>)
  | (MemoryCacheOptions & { url?: undefined });

/** Builds the cache named `name` from its settings. */
export type CacheFactory<O> = (options: O, name: string) => Cache;

/** The default factory: `cacheFromUrl` for settings with a `url`, else a `MemoryCache`. */
function defaultFactory(settings: CacheSettings): Cache {
  if (settings.url !== undefined) {
    const { url, ...options } = settings;
    return cacheFromUrl(url, options);
  }
  return new MemoryCache(settings as MemoryCacheOptions);
}

/**
 * A registry of named caches, like cacheout's `CacheManager` or Django's
 * `CACHES`: `settings` maps a name to the options of its cache, and
 * {@linkcode CacheManager.cache} creates each one on first use. A name without
 * settings gets the `default` settings; without a `default`, it is an error.
 *
 * Iterating and {@linkcode CacheManager.clearAll} cover every configured name
 * (creating caches as needed, so a persistent cache is cleared even when this
 * process has not used it yet); {@linkcode CacheManager.closeAll} closes the
 * caches created so far, and the next `cache(name)` creates a fresh one.
 *
 * @typeParam O The settings of one cache: {@linkcode CacheSettings} for the
 * default factory, anything your own factory takes.
 *
 * @example Named caches from configuration
 * ```ts
 * import { CacheManager } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using caches = new CacheManager({
 *   default: { maxEntries: 1000 },
 *   sessions: { url: "memory://?maxEntries=10000&defaultTtl=1800000" },
 *   off: { url: "null://" },
 * });
 * await caches.cache("sessions").set("s1", { user: 1 });
 * await caches.cache("thumbnails").set("t1", "…"); // from the default settings
 * assert.deepEqual([...caches].map(([name]) => name), ["default", "sessions", "off", "thumbnails"]);
 * ```
 */
export class CacheManager<O extends object = CacheSettings> implements AsyncDisposable {
  #settings = new Map<string, O>();
  #caches = new Map<string, Cache>();
  #factory: CacheFactory<O>;

  /**
   * Creates a manager; no cache is built until it is used.
   *
   * @param settings A map from cache name to that cache's settings.
   * @param factory Builds a cache from its settings. Default: `cacheFromUrl`
   * when the settings give a `url`, else `new MemoryCache(settings)`.
   * @throws {TypeError} Settings that are not an object of objects.
   */
  constructor(settings: Readonly<Record<string, NoInfer<O>>> = {}, factory?: CacheFactory<O>) {
    if (settings === null || typeof settings !== "object") {
      throw new TypeError(
        `Cannot create CacheManager: settings must be an object mapping names to options, received ${
          _describe(settings)
        }`,
      );
    }
    if (factory !== undefined && typeof factory !== "function") {
      throw new TypeError(
        `Cannot create CacheManager: factory must be a function, received ${_describe(factory)}`,
      );
    }
    for (const [name, options] of Object.entries(settings)) this.#setting(name, options);
    this.#factory = factory ?? (defaultFactory as unknown as CacheFactory<O>);
  }

  #setting(name: string, options: O): void {
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `Cannot configure cache "${name}": settings must be an object, received ${
          _describe(options)
        }`,
      );
    }
    this.#settings.set(name, options);
  }

  /**
   * The cache named `name`, created from its settings (or the `default`
   * settings) on first use.
   *
   * @param name The cache's name. Default `"default"`.
   * @returns The same instance on every call until `configure` or `closeAll`.
   * @throws {TypeError} A name with no settings when there is no `default`.
   */
  cache(name = "default"): Cache {
    const existing = this.#caches.get(name);
    if (existing !== undefined) return existing;
    if (typeof name !== "string") {
      throw new TypeError(`Cannot get cache: name must be a string, received ${_describe(name)}`);
    }
    const options = this.#settings.get(name) ?? this.#settings.get("default");
    if (options === undefined) {
      const known = [...this.#settings.keys()].map((known) => `"${known}"`).join(", ");
      throw new TypeError(
        `Cannot get cache "${name}": no settings for it and no "default" settings; configured: ${
          known || "none"
        }`,
      );
    }
    const cache = this.#factory(options, name);
    this.#caches.set(name, cache);
    return cache;
  }

  /**
   * Replaces the settings of `name` and rebuilds its cache: the old instance,
   * if any, is closed.
   *
   * @param name The cache's name (a new name is added).
   * @param options Its new settings.
   * @returns The new cache.
   * @throws What the factory throws; then the old settings and cache stay.
   */
  async configure(name: string, options: O): Promise<Cache> {
    if (typeof name !== "string") {
      throw new TypeError(
        `Cannot configure cache: name must be a string, received ${_describe(name)}`,
      );
    }
    const previous = this.#settings.get(name);
    this.#setting(name, options);
    let cache: Cache;
    try {
      cache = this.#factory(options, name);
    } catch (error) {
      if (previous === undefined) this.#settings.delete(name);
      else this.#settings.set(name, previous);
      throw error;
    }
    const old = this.#caches.get(name);
    this.#caches.set(name, cache);
    if (old !== undefined) await old.close();
    return cache;
  }

  /** Every configured name with its cache (created as needed), then other caches in use. */
  *[Symbol.iterator](): IterableIterator<[string, Cache]> {
    for (const name of this.#settings.keys()) yield [name, this.cache(name)];
    for (const entry of [...this.#caches]) {
      if (!this.#settings.has(entry[0])) yield entry;
    }
  }

  /** Clears every cache the manager iterates; resolves when all are cleared. */
  async clearAll(): Promise<void> {
    await Promise.all([...this].map(([, cache]) => cache.clear()));
  }

  /** Closes every cache created so far and forgets them. */
  async closeAll(): Promise<void> {
    const caches = [...this.#caches.values()];
    this.#caches.clear();
    const results = await Promise.allSettled(caches.map((cache) => cache.close()));
    const failed = results.filter((result) => result.status === "rejected");
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((result) => (result as PromiseRejectedResult).reason),
        `Cannot close ${failed.length} of ${caches.length} caches`,
      );
    }
  }

  /** Closes every cache created so far, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }
}
