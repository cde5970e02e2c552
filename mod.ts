/**
 * cachelib for Deno: one cache interface, many backends.
 *
 * Pick a backend by constructing it; every other line of code stays the same.
 * Networked backends load their client library only when they first connect,
 * so importing this module costs nothing for them.
 *
 * @example Cache a slow function's result
 * ```ts
 * import { MemoryCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new MemoryCache({ maxEntries: 1000, defaultTtl: 60_000 });
 * async function slowSquare(n: number): Promise<number> {
 *   await new Promise((resolve) => setTimeout(resolve, 10));
 *   return n * n;
 * }
 * const first = await cache.getOrSet("square:12", () => slowSquare(12)); // computes
 * const again = await cache.getOrSet("square:12", () => slowSquare(12)); // cached
 * assert.deepEqual([first, again, cache.stats().hits], [144, 144, 1]);
 * ```
 *
 * @module
 */

// The contract and its errors.
export {
  type Cache,
  CacheBatchError,
  CacheConnectionError,
  CacheError,
  type CacheErrorOptions,
  type CacheOptions,
  type CacheStats,
  CacheTimeoutError,
  CacheUnsupportedError,
  DEFAULT_TTL,
  SerializationError,
} from "./cache.ts";
export type {
  GetOrSetOptions,
  Produce,
  ProduceContext,
  RefreshErrorInfo,
} from "./backends/_get_or_set.ts";

// Backends: each is also an entry point of its own (`@cachelib/cachelib/memory`, …) that loads
// no other backend; see README.md for which import to use.
export * from "./backends/memory/mod.ts";
export * from "./backends/null/mod.ts";
export * from "./backends/filesystem/mod.ts";
export * from "./backends/redis/mod.ts";
export * from "./backends/memcached/mod.ts";
export * from "./backends/uwsgi/mod.ts";
export * from "./backends/deno_kv/mod.ts";
export * from "./backends/tiered/mod.ts";

// Eviction policies of MemoryCache / MemoryStore.
export {
  DEFAULT_POLICY,
  type EvictionPolicy,
  POLICIES,
  type PolicyFactory,
  type PolicyName,
} from "./policies/policy.ts";
export { LruPolicy } from "./policies/lru.ts";
export { QueuePolicy } from "./policies/queue_policy.ts";
export { FifoPolicy } from "./policies/fifo.ts";
export { LifoPolicy } from "./policies/lifo.ts";
export { MruPolicy } from "./policies/mru.ts";
export { LfuPolicy } from "./policies/lfu.ts";
export { RandomPolicy, type RandomPolicyOptions } from "./policies/random.ts";
export { S3FifoPolicy } from "./policies/s3fifo.ts";
export { type TinyLfuOptions, TinyLfuPolicy } from "./policies/tinylfu.ts";
export { type AdaptiveTinyLfuOptions, AdaptiveTinyLfuPolicy } from "./policies/adaptive.ts";

// Serializers of the backends that store bytes.
export type { AsyncSerializer, Serializer, SyncSerializer } from "./serializers/serializer.ts";
export { defaultSerializer } from "./serializers/default.ts";
export { jsonSerializer } from "./serializers/json.ts";
export { compressed, type CompressionFormat } from "./serializers/compressed.ts";
export { encrypted } from "./serializers/encrypted.ts";

// Using caches: memoize, CacheManager, a cache from a URL.
export {
  memoize,
  type Memoized,
  memoized,
  type MemoizedMethod,
  type MemoizedOptions,
  type MemoizeOptions,
  type MethodMemoizer,
} from "./memoize.ts";
export { type CacheFactory, CacheManager, type CacheSettings } from "./manager.ts";
export {
  cacheFromUrl,
  type CacheScheme,
  type DenoKvUrlOptions,
  type FileUrlOptions,
  type MemcachedUrlOptions,
  type MemoryUrlOptions,
  type NullUrlOptions,
  parseCacheUrl,
  type ParsedCacheUrl,
  type RedisUrlOptions,
  registerCacheScheme,
  type SchemeOptions,
  type UrlParam,
  type UrlParts,
  type UrlScheme,
  type UwsgiUrlOptions,
} from "./url.ts";

// Toolkit for writing a backend: the base class and the checks every backend shares.
export { BaseCache, ByteCache, type CounterOp } from "./backends/_base.ts";
export {
  addDelta,
  checkDefaultTtl,
  checkDelta,
  checkKey,
  checkKeys,
  checkOptionNames,
  checkValue,
  entriesOf,
  redactCredentials,
  resolveTtl,
  scrubSecrets,
} from "./cache.ts";
export type { NamespaceOptions, NamespaceView } from "./backends/_namespace.ts";
export type { SetOptions } from "./backends/_tags.ts";
