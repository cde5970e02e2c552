/**
 * `@cachelib/cachelib/memory`: {@linkcode MemoryCache}, the in-process cache, and the
 * {@linkcode MemoryStore} under it. Runs everywhere, Deno Deploy included. Importing only this
 * entry point loads no other backend and no npm package; it also gives the {@linkcode Cache}
 * contract and its errors.
 *
 * @example Cache in memory, bounded by entries
 * ```ts
 * import { type Cache, MemoryCache } from "@cachelib/cachelib/memory";
 * import assert from "node:assert/strict";
 *
 * await using cache: Cache = new MemoryCache({ maxEntries: 2, policy: "lru" });
 * await cache.setMany({ a: 1, b: 2, c: 3 });
 * assert.deepEqual(await cache.getMany(["a", "b", "c"]), [undefined, 2, 3]);
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export { MemoryCache, type MemoryCacheOptions } from "../memory.ts";
export { type EvictionCause, MemoryStore, type MemoryStoreOptions } from "./store.ts";
export type { EvictionPolicy, PolicyFactory, PolicyName } from "../../policies/policy.ts";
