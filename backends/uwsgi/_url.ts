/**
 * `uwsgi://`: the URL scheme of {@linkcode UwsgiCache}.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { UwsgiCache } from "../uwsgi.ts";

/** `uwsgi://host:port/cachename?defaultTtl=…&timeout=…`; no name: the server's first cache */
export interface UwsgiUrlOptions {
  /** The server as `host:port`. */
  server: string;
  /** The cache name, from the URL's path. */
  cache?: string;
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
  /** `?timeout=`: the deadline of every call, in ms. */
  timeout?: number;
}

/** `uwsgi://host:port/cachename`: the port is required, the cache name is optional. */
export const uwsgiUrl: UrlScheme<"uwsgi", UwsgiUrlOptions> = {
  scheme: "uwsgi",
  params: { defaultTtl: "ms", timeout: "ms" },
  options(url) {
    if (url.authority === "") {
      url.fail("uwsgi:// needs host:port, as in uwsgi://127.0.0.1:3031/cachename");
    }
    const server = url.hostPort(url.authority);
    const cache = url.path.slice(1);
    if (cache.includes("/")) {
      url.fail(`the path must be the cache name, as in uwsgi://${server}/cachename`);
    }
    return cache === "" ? { server, ...url.params } : { server, cache, ...url.params };
  },
  create: (options) => new UwsgiCache(options),
};
