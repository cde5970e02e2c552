/**
 * `@cachelib/cachelib/memcached`: {@linkcode MemcachedCache}, a cache on one or more memcached
 * servers. `npm:memjs` is loaded on the first call, not by this import. It also gives the
 * {@linkcode Cache} contract and its errors.
 *
 * @example Configure a cache; it connects on its first call
 * ```ts
 * import { MemcachedCache } from "@cachelib/cachelib/memcached";
 * import assert from "node:assert/strict";
 *
 * await using cache = new MemcachedCache({ servers: ["127.0.0.1:11211"], keyPrefix: "app:" });
 * assert.equal(cache.defaultTtl, 300_000);
 * ```
 *
 * @example Use it (needs a server)
 * ```ts ignore
 * import { MemcachedCache } from "@cachelib/cachelib/memcached";
 *
 * await using cache = new MemcachedCache({ servers: ["10.0.0.1:11211", "10.0.0.2:11211"] });
 * await cache.set("user:1", { name: "Ada" }, 60_000);
 * console.log(await cache.get("user:1")); // { name: "Ada" }
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export {
  MemcachedCache,
  type MemcachedCacheOptions,
  type MemcachedDistribution,
  type MemcachedServer,
  type MemjsClient,
  type MemjsResponse,
  type MemjsServer,
} from "../memcached.ts";
