/**
 * `@cachelib/cachelib/deno-kv`: {@linkcode DenoKvCache}, a cache in Deno KV, the shared store
 * of Deno Deploy (needs `--unstable-kv` outside Deno Deploy). Importing only this entry point
 * loads no other backend and no npm package; it also gives the {@linkcode Cache} contract and
 * its errors.
 *
 * @example Cache in a KV database of its own
 * ```ts
 * import { DenoKvCache } from "@cachelib/cachelib/deno-kv";
 * import assert from "node:assert/strict";
 *
 * await using cache = new DenoKvCache({ path: ":memory:", prefix: ["app"] });
 * await cache.set("user:1", { name: "Ada" });
 * assert.deepEqual(await cache.get("user:1"), { name: "Ada" });
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export { DenoKvCache, type DenoKvCacheOptions } from "../deno_kv.ts";
