/**
 * `memcached://`: the URL scheme of {@linkcode MemcachedCache}. Importing this loads no
 * memcached client: `MemcachedCache` loads `npm:memjs` on its first call.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { MemcachedCache } from "../memcached.ts";

/** `memcached://host:port,host2:port?keyPrefix=…&defaultTtl=…&timeout=…` */
export interface MemcachedUrlOptions {
  /** The servers as `host:port`, from the URL's host list. */
  servers: string[];
  /** `?keyPrefix=`: the prefix of every key on the server. */
  keyPrefix?: string;
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
  /** `?timeout=`: the deadline of every call, in ms. */
  timeout?: number;
}

/** `memcached://a:11211,b` (no host: `127.0.0.1:11211`); no path. */
export const memcachedUrl: UrlScheme<"memcached", MemcachedUrlOptions> = {
  scheme: "memcached",
  params: { keyPrefix: "text", defaultTtl: "ms", timeout: "ms" },
  options(url) {
    url.noPath();
    const servers = url.authority === ""
      ? ["127.0.0.1:11211"]
      : url.authority.split(",").map((server) => url.hostPort(server, 11211));
    return { servers, ...url.params };
  },
  create: (options) => new MemcachedCache(options),
};
