/**
 * `@cachelib/cachelib/tiered`: {@linkcode TieredCache}, a {@linkcode MemoryCache} (L1, re-exported
 * here) in front of a shared cache, and its invalidation buses ({@linkcode BroadcastChannelBus},
 * {@linkcode RedisBus}).
 * Importing this entry point loads no backend but memory and no npm package (the Redis bus loads the
 * client when it connects).
 *
 * @example Memory over memory with a BroadcastChannel bus
 * ```ts
 * import { BroadcastChannelBus, MemoryCache, TieredCache } from "@cachelib/cachelib/tiered";
 * import assert from "node:assert/strict";
 *
 * await using cache = new TieredCache({
 *   l1: new MemoryCache(),
 *   l2: new MemoryCache(),
 *   bus: new BroadcastChannelBus("mod-example"),
 * });
 * await cache.set("a", 1);
 * assert.equal(await cache.get("a"), 1);
 * ```
 *
 * @module
 */
export * from "../_contract.ts";
export { TieredCache, type TieredCacheOptions } from "../tiered.ts";
export { MemoryCache, type MemoryCacheOptions } from "../memory.ts";
export { BroadcastChannelBus, type BusHandler, type InvalidationBus } from "./_bus.ts";
export { RedisBus, type RedisBusOptions } from "./_redis_bus.ts";
