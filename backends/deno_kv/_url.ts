/**
 * `denokv://`: the URL scheme of {@linkcode DenoKvCache}.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { DenoKvCache } from "../deno_kv.ts";

/** `denokv://` or `denokv:///path/to/kv.db`, `?prefix=app&prefix=cache&defaultTtl=…` */
export interface DenoKvUrlOptions {
  /** The database file, from the URL's path. */
  path?: string;
  /** `?prefix=a&prefix=b`: the key prefix in the database. */
  prefix?: string[];
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
}

/** `denokv://` (the default database) or `denokv:///path/to/kv.db`; no host. */
export const denoKvUrl: UrlScheme<"denokv", DenoKvUrlOptions> = {
  scheme: "denokv",
  params: { prefix: "list", defaultTtl: "ms" },
  options(url) {
    url.noHost();
    const { path, params } = url;
    return path === "" || path === "/" ? params : { path, ...params };
  },
  create: (options) => new DenoKvCache(options),
};
