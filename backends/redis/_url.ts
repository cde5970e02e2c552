/**
 * `redis://` and `rediss://`: the URL schemes of {@linkcode RedisCache}. Importing this loads
 * no Redis client: `RedisCache` loads `npm:redis` on its first connect.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { RedisCache } from "../redis.ts";

/** `redis://[user:password@]host[:port][/db]?keyPrefix=app:&defaultTtl=…&timeout=…` (or `rediss://`) */
export interface RedisUrlOptions {
  /** The URL without its query, as the Redis client reads it. */
  url: string;
  /** `?keyPrefix=`: the prefix of every key on the server. */
  keyPrefix?: string;
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
  /** `?timeout=`: the deadline of every call, in ms. */
  timeout?: number;
}

/** `redis://` (or `rediss://` for TLS): a host is required; the path is a database number. */
export const redisUrl: UrlScheme<"redis", RedisUrlOptions> = {
  scheme: "redis",
  aliases: ["rediss"],
  credentials: true,
  params: { keyPrefix: "text", defaultTtl: "ms", timeout: "ms" },
  options(url) {
    const { authority, rawPath } = url;
    if (authority === "" || authority.endsWith("@")) url.fail("redis:// needs a host");
    if (!/^(\/\d*)?$/.test(rawPath)) {
      url.fail(`the path must be a database number like /0, received "${url.path}"`);
    }
    url.hostPort(authority.slice(authority.lastIndexOf("@") + 1), 6379);
    return { url: `${url.scheme}://${authority}${rawPath}`, ...url.params };
  },
  create: (options) => new RedisCache(options),
};
