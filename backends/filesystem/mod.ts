/**
 * `@cachelib/cachelib/filesystem`: {@linkcode FileSystemCache}, entries as files in one
 * directory, safe for any number of processes sharing it. Importing only this entry point
 * loads no other backend and no npm package; it also gives the {@linkcode Cache} contract and
 * its errors.
 *
 * @example Cache in a directory
 * ```ts
 * import { FileSystemCache } from "@cachelib/cachelib/filesystem";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using cache = new FileSystemCache({ dir });
 *   await cache.set("user:1", { name: "Ada" });
 * }
 * await using again = new FileSystemCache({ dir });
 * assert.deepEqual(await again.get("user:1"), { name: "Ada" });
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export { FileSystemCache, type FileSystemCacheOptions } from "../filesystem.ts";
