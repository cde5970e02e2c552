/**
 * `memory://`: the URL scheme of {@linkcode MemoryCache}.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { MemoryCache } from "../memory.ts";
import { POLICIES, type PolicyName } from "../../policies/policy.ts";

/** `memory://?maxEntries=1000&maxBytes=…&defaultTtl=…&policy=lru&clone=false` */
export interface MemoryUrlOptions {
  /** `?maxEntries=`: the most entries kept. */
  maxEntries?: number;
  /** `?maxBytes=`: the most bytes kept. */
  maxBytes?: number;
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
  /** `?policy=`: the eviction policy by name. */
  policy?: PolicyName;
  /** `?clone=`: whether values are copied on the way in and out. */
  clone?: boolean;
}

/** `memory://`: no host, no path. */
export const memoryUrl: UrlScheme<"memory", MemoryUrlOptions> = {
  scheme: "memory",
  params: {
    maxEntries: "integer",
    maxBytes: "integer",
    defaultTtl: "ms",
    policy: { oneOf: () => Object.keys(POLICIES) },
    clone: "boolean",
  },
  options(url) {
    url.noHost();
    url.noPath();
    return url.params;
  },
  create: (options) => new MemoryCache(options),
};
