/**
 * `@cachelib/cachelib/uwsgi`: {@linkcode UwsgiCache}, a cache in a uWSGI server's cache
 * subsystem, spoken to over the uwsgi protocol. Importing only this entry point loads no other
 * backend and no npm package; it also gives the {@linkcode Cache} contract and its errors.
 *
 * @example Configure a cache; it connects on its first call
 * ```ts
 * import { UwsgiCache } from "@cachelib/cachelib/uwsgi";
 * import assert from "node:assert/strict";
 *
 * await using cache = new UwsgiCache({ server: "127.0.0.1:3031", cache: "sessions" });
 * assert.equal(cache.cacheName, "sessions");
 * ```
 *
 * @example Use it (needs a server)
 * ```ts ignore
 * import { UwsgiCache } from "@cachelib/cachelib/uwsgi";
 *
 * await using cache = new UwsgiCache({ server: "127.0.0.1:3031", cache: "sessions" });
 * await cache.set("user:1", { name: "Ada" }, 60_000);
 * console.log(await cache.get("user:1")); // { name: "Ada" }
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export { UwsgiCache, type UwsgiCacheOptions } from "../uwsgi.ts";
