/**
 * The options of {@linkcode DenoKvCache} and their checks.
 *
 * @module
 */
import { _describe, checkDefaultTtl, checkOptionNames } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import { checkTimeout } from "../_toolkit/options.ts";
import { keySize, MAX_PREFIX_BYTES, prefixPart } from "./_layout.ts";

/** Options of {@linkcode DenoKvCache}. */
export interface DenoKvCacheOptions {
  /** An open `Deno.Kv` to use; `close()` leaves it open. */
  kv?: Deno.Kv | undefined;
  /** A path for `Deno.openKv(path)`, opened on first use and closed by `close()`. */
  path?: string | undefined;
  /**
   * The KV key prefix of every entry (default `["cachelib"]`); prefixes of caches must not nest.
   * A string part with a lone surrogate is stored as bytes (KV's UTF-8 would merge it with
   * U+FFFD), so read such a cache's entries through the cache, not by this exact KV key.
   */
  prefix?: Deno.KvKey | undefined;
  /** Lifetime in ms of entries stored without an explicit ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Turns values into bytes (default `defaultSerializer`). */
  serializer?: Serializer | undefined;
  /** The clock for expiry, in ms (default `Date.now`). */
  now?: (() => number) | undefined;
  /**
   * ms one call may take, from the moment it is made: opening the database, its wait behind
   * this instance's earlier writes of the key, and every KV operation. Default 10 000 (above
   * the ≤ ~3.2 s of backoff a locked or contended database can cost). A call past it rejects
   * with `CacheConnectionError`; Deno KV cannot cancel an operation, so a write that timed
   * out may still be applied later.
   */
  timeout?: number | undefined;
}

/** The checked options, defaults applied. */
export interface ResolvedOptions {
  kv: Deno.Kv | undefined;
  path: string | undefined;
  prefix: Deno.KvKey;
  defaultTtl: number;
  serializer: Serializer | undefined;
  now: () => number;
  timeout: number;
  /** The credentials `path` carries (a remote URL's userinfo, password, token values). */
  secrets: readonly string[];
}

/** Every option {@linkcode DenoKvCache} reads. */
export const OPTION_NAMES = [
  "kv",
  "path",
  "prefix",
  "defaultTtl",
  "serializer",
  "now",
  "timeout",
] as const;

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
  const parts = prefix.map(prefixPart);
  if (keySize(parts) > MAX_PREFIX_BYTES) {
    throw new RangeError(
      `Cannot create DenoKvCache: prefix must encode to at most ${MAX_PREFIX_BYTES} bytes`,
    );
  }
  return Object.freeze({
    kv: options.kv,
    path: options.path,
    prefix: Object.freeze(parts),
    defaultTtl,
    serializer: options.serializer,
    now: options.now ?? Date.now,
    timeout: checkTimeout("DenoKvCache", options.timeout, 10_000),
    secrets: Object.freeze(secretsOf(options.path)),
  });
}

/**
 * The credentials a `path` may carry, as parsed (a remote KV URL): everything between
 * `://` and the last `@` before the path, the password alone, and the values of
 * `token`/`password`-like query parameters; they are scrubbed from every message.
 */
export function secretsOf(path: unknown): string[] {
  if (typeof path !== "string") return [];
  const secrets: string[] = [];
  const start = path.indexOf("://");
  if (start >= 0) {
    const rest = path.slice(start + 3);
    const at = rest.lastIndexOf("@");
    if (at > 0) {
      const userinfo = rest.slice(0, at);
      secrets.push(userinfo);
      const colon = userinfo.indexOf(":");
      if (colon >= 0 && userinfo.length - colon > 3) secrets.push(userinfo.slice(colon + 1));
    }
  }
  const query = path.indexOf("?");
  if (query >= 0) {
    for (const pair of path.slice(query + 1).split(/[&#]/)) {
      const [name = "", value = ""] = pair.split("=", 2);
      if (/pass|pwd|token|secret|auth|key/i.test(name) && value !== "") secrets.push(value);
    }
  }
  return secrets;
}
