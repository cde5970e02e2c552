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
export {
  type Cache,
  CacheBatchError,
  CacheConnectionError,
  CacheError,
  type CacheOptions,
  type CacheStats,
  DEFAULT_TTL,
  SerializationError,
} from "./cache.ts";
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
} from "./cache.ts";
export { BaseCache } from "./backends/_base.ts";
export { NullCache, type NullCacheOptions } from "./backends/null.ts";
export { MemoryCache, type MemoryCacheOptions } from "./backends/memory.ts";
export {
  type EvictionCause,
  MemoryStore,
  type MemoryStoreOptions,
} from "./backends/memory/store.ts";
export {
  DEFAULT_POLICY,
  type EvictionPolicy,
  POLICIES,
  type PolicyFactory,
  type PolicyName,
} from "./policies/policy.ts";
export { LruPolicy } from "./policies/lru.ts";
export type { Serializer } from "./serializers/serializer.ts";
export { defaultSerializer } from "./serializers/default.ts";
export { jsonSerializer } from "./serializers/json.ts";

// FileSystemCache
export { FileSystemCache, type FileSystemCacheOptions } from "./backends/filesystem.ts";

// RedisCache
export {
  DEFAULT_REDIS_URL,
  RedisCache,
  type RedisCacheOptions,
  type RedisClientLike,
  type RedisClusterLike,
  type RedisSentinelLike,
  type RedisTopologyUrlOptions,
} from "./backends/redis.ts";

// MemcachedCache
export {
  MemcachedCache,
  type MemcachedCacheOptions,
  type MemjsClient,
  type MemjsResponse,
} from "./backends/memcached.ts";

// eviction policies
export { QueuePolicy } from "./policies/queue_policy.ts";
export { FifoPolicy } from "./policies/fifo.ts";
export { LifoPolicy } from "./policies/lifo.ts";
export { MruPolicy } from "./policies/mru.ts";
export { LfuPolicy } from "./policies/lfu.ts";
export { RandomPolicy, type RandomPolicyOptions } from "./policies/random.ts";
export { S3FifoPolicy } from "./policies/s3fifo.ts";
export { type TinyLfuOptions, TinyLfuPolicy } from "./policies/tinylfu.ts";

// memoize, memoized, CacheManager, cacheFromUrl
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
  parseCacheUrl,
  type ParsedCacheUrl,
  type SchemeOptions,
} from "./url.ts";

// UwsgiCache
export { UwsgiCache, type UwsgiCacheOptions } from "./backends/uwsgi.ts";

// DenoKvCache
export { DenoKvCache, type DenoKvCacheOptions } from "./backends/deno_kv.ts";
