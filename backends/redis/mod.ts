/**
 * `@cachelib/cachelib/redis`: {@linkcode RedisCache}, a cache on a Redis (or Valkey) server
 * through node-redis. `npm:redis` is loaded on the first connect, not by this import. It also
 * gives the {@linkcode Cache} contract and its errors.
 *
 * @example Configure a cache; it connects on its first call
 * ```ts
 * import { RedisCache } from "@cachelib/cachelib/redis";
 * import assert from "node:assert/strict";
 *
 * await using cache = new RedisCache({ url: "redis://127.0.0.1:6379/0", keyPrefix: "app:" });
 * assert.equal(cache.defaultTtl, 300_000);
 * ```
 *
 * @example Use it (needs a server)
 * ```ts ignore
 * import { RedisCache } from "@cachelib/cachelib/redis";
 *
 * await using cache = new RedisCache({ url: Deno.env.get("REDIS_URL"), keyPrefix: "app:" });
 * await cache.set("user:1", { name: "Ada" }, 60_000);
 * console.log(await cache.get("user:1")); // { name: "Ada" }
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export {
  DEFAULT_REDIS_URL,
  RedisCache,
  type RedisCacheOptions,
  type RedisClientLike,
  type RedisClusterLike,
  type RedisSentinelLike,
  type RedisTopologyUrlOptions,
} from "../redis.ts";
