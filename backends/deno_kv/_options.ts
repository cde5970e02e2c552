/**
 * The options of {@linkcode DenoKvCache} and their checks.
 *
 * @module
 */
import { _describe, checkDefaultTtl, checkOptionNames } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import { keySize, MAX_PREFIX_BYTES } from "./_layout.ts";

/** Options of {@linkcode DenoKvCache}. */
export interface DenoKvCacheOptions {
  /** An open `Deno.Kv` to use; `close()` leaves it open. */
  kv?: Deno.Kv | undefined;
  /** A path for `Deno.openKv(path)`, opened on first use and closed by `close()`. */
  path?: string | undefined;
  /** The KV key prefix of every entry (default `["cachelib"]`); prefixes of caches must not nest. */
  prefix?: Deno.KvKey | undefined;
  /** Lifetime in ms of entries stored without an explicit ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Turns values into bytes (default `defaultSerializer`). */
  serializer?: Serializer | undefined;
  /** The clock for expiry, in ms (default `Date.now`). */
  now?: (() => number) | undefined;
}

/** The checked options, defaults applied. */
export interface ResolvedOptions {
  kv: Deno.Kv | undefined;
  path: string | undefined;
  prefix: Deno.KvKey;
  defaultTtl: number;
  serializer: Serializer | undefined;
  now: () => number;
}

/** Every option {@linkcode DenoKvCache} reads. */
export const OPTION_NAMES = ["kv", "path", "prefix", "defaultTtl", "serializer", "now"] as const;

/**
 * Checks the options, applies the defaults and freezes the result.
 *
 * @throws {TypeError} An unknown option, both `kv` and `path`, or a bad `prefix`.
 * @throws {RangeError} A `defaultTtl` out of range, or a `prefix` too long for KV.
 */
export function resolveOptions(options: DenoKvCacheOptions): Readonly<ResolvedOptions> {
  checkOptionNames("DenoKvCache", options, OPTION_NAMES);
  const defaultTtl = checkDefaultTtl(options.defaultTtl, "DenoKvCache");
  if (options.kv !== undefined && options.path !== undefined) {
    throw new TypeError("Cannot create DenoKvCache: give either kv or path, not both");
  }
  const prefix = options.prefix ?? ["cachelib"];
  if (!Array.isArray(prefix) || prefix.length === 0) {
    throw new TypeError(
      `Cannot create DenoKvCache: prefix must be a non-empty KV key (an empty one would let clear() empty the whole database), received ${
        _describe(prefix)
      }`,
    );
  }
  const bad = prefix.find((part) =>
    !["string", "number", "bigint", "boolean"].includes(typeof part) &&
    !(part instanceof Uint8Array)
  );
  if (bad !== undefined) {
    throw new TypeError(
      `Cannot create DenoKvCache: prefix parts must be strings, numbers, bigints, booleans or Uint8Arrays, received ${
        _describe(bad)
      }`,
    );
  }
  if (keySize(prefix) > MAX_PREFIX_BYTES) {
    throw new RangeError(
      `Cannot create DenoKvCache: prefix must encode to at most ${MAX_PREFIX_BYTES} bytes`,
    );
  }
  return Object.freeze({
    kv: options.kv,
    path: options.path,
    prefix: Object.freeze([...prefix]),
    defaultTtl,
    serializer: options.serializer,
    now: options.now ?? Date.now,
  });
}
