/**
 * {@linkcode NullCache}: accepts every write and stores nothing.
 *
 * @module
 */
import { BaseCache, type CounterOp } from "./_base.ts";
import { addDelta, checkOptionNames } from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";

/** Options of {@linkcode NullCache}. */
export interface NullCacheOptions {
  /** The ttl in ms calls without one would use; `0` = never. Default 300 000. */
  defaultTtl?: number | undefined;
  /**
   * Accepted so that options written for a byte-storing backend still work when caching is
   * switched off (`cacheFromUrl("null://", options)`); nothing is stored, so it is not used.
   */
  serializer?: Serializer | undefined;
}

/**
 * A cache that stores nothing, like Python cachelib's `NullCache`: writes
 * succeed, reads miss, `inc`/`dec` return the delta as if from 0. Arguments
 * are still checked like on every other backend. Use it to switch caching off
 * without changing code.
 *
 * @example Turn caching off in tests
 * ```ts
 * import { NullCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new NullCache();
 * assert.equal(await cache.set("a", 1), true);
 * assert.equal(await cache.get("a"), undefined);
 * assert.equal(await cache.inc("n", 5), 5);
 * ```
 */
export class NullCache extends BaseCache {
  /**
   * Creates a cache that stores nothing.
   *
   * @param options See {@linkcode NullCacheOptions}.
   * @throws {TypeError} An unknown option name, listing the accepted ones.
   */
  constructor(options: NullCacheOptions = {}) {
    checkOptionNames("NullCache", options, ["defaultTtl", "serializer"]);
    super({ defaultTtl: options.defaultTtl });
  }

  /** Reads nothing. */
  protected _get(): undefined {
    return undefined;
  }
  /** Accepts a write. */
  protected _set(): boolean {
    return true;
  }
  /** Accepts a write. */
  protected _add(): boolean {
    return true;
  }
  /** Removes nothing. */
  protected _delete(): boolean {
    return false;
  }
  /** Finds nothing. */
  protected _has(): boolean {
    return false;
  }
  /** Has nothing to remove. */
  protected _clear(): boolean {
    return true;
  }
  /** The delta, as if added to 0 (`dec` arrives negated). */
  protected _addToCounter(key: string, delta: number, _ttl: number, op: CounterOp): number {
    return addDelta(op, key, 0, delta);
  }
  /** Has no entry, so no ttl. */
  protected override _ttl(): undefined {
    return undefined;
  }
  /** Has no live key to touch. */
  protected override _touch(): boolean {
    return false;
  }
  /** Lists nothing. */
  protected override _keys(): Iterable<string> {
    return [];
  }
}
