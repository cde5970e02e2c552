/**
 * `@cachelib/cachelib/null`: {@linkcode NullCache}, a cache that stores nothing, to switch
 * caching off without changing code. Importing only this entry point loads no other backend
 * and no npm package; it also gives the {@linkcode Cache} contract and its errors.
 *
 * @example Switch caching off
 * ```ts
 * import { type Cache, NullCache } from "@cachelib/cachelib/null";
 * import assert from "node:assert/strict";
 *
 * await using cache: Cache = new NullCache();
 * assert.equal(await cache.set("a", 1), true);
 * assert.equal(await cache.get("a"), undefined);
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export { NullCache, type NullCacheOptions } from "../null.ts";
