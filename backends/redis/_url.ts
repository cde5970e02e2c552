/**
 * `redis://`, `rediss://`, `redis+cluster://` and `redis+sentinel://`: the URL schemes of
 * {@linkcode RedisCache}. Importing this loads
 * no Redis client: `RedisCache` loads `npm:redis` on its first connect.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { RedisCache } from "../redis.ts";
import { redisTopologyOptions, type RedisTopologyUrlOptions } from "./_options.ts";

/** `redis://[user:password@]host[:port][/db]?keyPrefix=app:&defaultTtl=…&timeout=…` (or `rediss://`) */
export type RedisUrlOptions =
  & ({ url: string } | RedisTopologyUrlOptions)
  & { keyPrefix?: string; defaultTtl?: number; timeout?: number };

/** `redis://` (or `rediss://` for TLS): a host is required; the path is a database number. */
export const redisUrl: UrlScheme<"redis", RedisUrlOptions> = {
  scheme: "redis",
  aliases: ["rediss", "redis+cluster", "redis+sentinel"],
  credentials: true,
  params: { keyPrefix: "text", defaultTtl: "ms", timeout: "ms" },
  options(url) {
    const { authority, rawPath } = url;
    if (url.scheme === "redis+cluster" || url.scheme === "redis+sentinel") {
      // redis+cluster://h1:p1,h2:p2?… and redis+sentinel://s1:p1,s2:p2/mymaster?…
      return { ...redisTopologyOptions(url.scheme, authority, url.path, url.fail), ...url.params };
    }
    if (authority === "" || authority.endsWith("@")) url.fail("redis:// needs a host");
    if (!/^(\/\d*)?$/.test(rawPath)) {
      url.fail(`the path must be a database number like /0, received "${url.path}"`);
    }
    url.hostPort(authority.slice(authority.lastIndexOf("@") + 1), 6379);
    return { url: `${url.scheme}://${authority}${rawPath}`, ...url.params };
  },
  create: (options) => new RedisCache(options),
};
