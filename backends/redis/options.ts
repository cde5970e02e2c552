/**
 * The options of {@linkcode RedisCache} and their checks.
 *
 * @module
 */
import { _describe, checkOptionNames, redactCredentials } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import type { RedisClientLike } from "./connection.ts";

/**
 * Options of `RedisCache`.
 *
 * @example Fail fast, keep to one prefix
 * ```ts
 * import type { RedisCacheOptions } from "@cachelib/cachelib";
 *
 * const options: RedisCacheOptions = {
 *   url: "redis://127.0.0.1:6379/0",
 *   keyPrefix: "sessions:",
 *   defaultTtl: 30 * 60_000,
 *   timeout: 500,
 * };
 * console.log(options.keyPrefix);
 * ```
 */
export interface RedisCacheOptions {
  /** The server, `redis[s]://[[user]:password@]host[:port][/db]`. Default `redis://127.0.0.1:6379`. */
  url?: string | undefined;
  /** A node-redis client you made instead of `url`; `close()` leaves it open. */
  client?: RedisClientLike | undefined;
  /** Prepended to every key; `clear()` then removes only keys with this prefix. Default `""`. */
  keyPrefix?: string | undefined;
  /** Lifetime in ms of entries stored without an explicit ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /**
   * Turns values into bytes. A custom one gets every value `set`/`add`/`setMany`
   * store; the default one (omitted) is skipped for safe integers and plain strings,
   * which are stored as their text.
   */
  serializer?: Serializer | undefined;
  /** Bound in ms on connecting and on each command (a batch counts as one). Default 5000. */
  timeout?: number | undefined;
}

/**
 * The default `url`: a Redis server on this machine's default port.
 *
 * @example
 * ```ts
 * import { DEFAULT_REDIS_URL } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_REDIS_URL, "redis://127.0.0.1:6379");
 * ```
 */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** Every option `RedisCache` reads. */
export const REDIS_OPTION_NAMES: readonly string[] = [
  "url",
  "client",
  "keyPrefix",
  "defaultTtl",
  "serializer",
  "timeout",
];

/** The checked options, defaults applied. */
export function checkRedisOptions(options: RedisCacheOptions): {
  url: string;
  client: RedisClientLike | undefined;
  keyPrefix: string;
  timeout: number;
} {
  checkOptionNames("RedisCache", options, REDIS_OPTION_NAMES);
  const { url = DEFAULT_REDIS_URL, client, keyPrefix = "", timeout = 5000 } = options;
  if (typeof keyPrefix !== "string") {
    throw new TypeError(
      `Cannot create cache: keyPrefix must be a string, received ${_describe(keyPrefix)}`,
    );
  }
  if (typeof timeout !== "number") {
    throw new TypeError(
      `Cannot create cache: timeout must be a number of milliseconds, received ${
        _describe(timeout)
      }`,
    );
  }
  if (!(timeout > 0) || timeout === Infinity) {
    throw new RangeError(
      `Cannot create cache: timeout must be a finite number of milliseconds > 0, received ${timeout}`,
    );
  }
  if (client !== undefined && options.url !== undefined) {
    throw new TypeError("Cannot create cache: give either url or client, not both");
  }
  if (client !== undefined && typeof client?.sendCommand !== "function") {
    throw new TypeError(
      `Cannot create cache: client must be a node-redis client, received ${_describe(client)}`,
    );
  }
  const bad = (why: string) =>
    new TypeError(
      `Cannot create cache: url must be a redis:// or rediss:// URL${why}, received ${
        // a url's userinfo runs to its last "@", spaces and quotes included
        redactCredentials(
          _describe(typeof url === "string" ? url.replace(/^([^:]*:\/\/).*@/s, "$1***@") : url),
        )}`,
    );
  if (typeof url !== "string" || !/^rediss?:\/\//i.test(url) || !URL.canParse(url)) throw bad("");
  const parsed = new URL(url);
  if (!/^\/?\d*$/.test(parsed.pathname)) throw bad(" whose path is a database number (/0)");
  try {
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
  } catch {
    throw bad(" whose user and password are percent-encoded");
  }
  return { url, client, keyPrefix, timeout };
}
