/**
 * What every backend entry point (`@cachelib/cachelib/memory`, `…/redis`, …) re-exports beside
 * its backend: the {@linkcode Cache} contract, its errors, {@linkcode BaseCache} and the
 * {@linkcode Serializer} type. A program that imports one backend's entry point can then name
 * every type it needs without importing the main entry point, which loads every backend.
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
  CacheTimeoutError,
  CacheUnsupportedError,
  DEFAULT_TTL,
  SerializationError,
} from "../cache.ts";
export type { GetOrSetOptions, Produce, ProduceContext, RefreshErrorInfo } from "./_get_or_set.ts";
export { BaseCache } from "./_base.ts";
export type { Serializer } from "../serializers/serializer.ts";
