/**
 * `null://`: the URL scheme of {@linkcode NullCache}.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { NullCache } from "../null.ts";

/** `null://?defaultTtl=…` */
export interface NullUrlOptions {
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
}

/** `null://`: no host, no path. */
export const nullUrl: UrlScheme<"null", NullUrlOptions> = {
  scheme: "null",
  params: { defaultTtl: "ms" },
  options(url) {
    url.noHost();
    url.noPath();
    return url.params;
  },
  create: (options) => new NullCache(options),
};
