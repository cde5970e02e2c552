/**
 * The options of {@linkcode RedisCache} and their checks.
 *
 * @module
 */
import { _describe, checkOptionNames, redactCredentials } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import { checkTimeout } from "../_toolkit/options.ts";
import {
  isNodeClient,
  isSentinelClient,
  type RedisClientLike,
  type RedisSentinelLike,
  type SentinelOptions,
} from "./_connection.ts";
import {
  type ClusterConnectionOptions,
  isClusterClient,
  type RedisClusterLike,
} from "./_cluster.ts";

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
  /**
   * A node-redis client you made instead of `url`: from `createClient`,
   * `createCluster` or `createSentinel`; `close()` leaves it open.
   */
  client?: RedisClientLike | RedisClusterLike | RedisSentinelLike | undefined;
  /**
   * A Redis Cluster: node-redis `createCluster` options, at least
   * `{ rootNodes: [{ url: "redis://10.0.0.1:6379" }, …] }`. Keys of one batch
   * may lie in any slots; `{tag}` in keys puts them in one slot.
   */
  cluster?: (Record<string, unknown> & { rootNodes: { url: string }[] }) | undefined;
  /**
   * Redis behind Sentinel: node-redis `createSentinel` options, at least
   * `{ name: "mymaster", sentinelRootNodes: [{ host, port }, …] }`. Every
   * command goes to the master the sentinels name now.
   */
  sentinel?:
    | (Record<string, unknown> & {
      name: string;
      sentinelRootNodes: { host: string; port: number }[];
    })
    | undefined;
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
  "cluster",
  "sentinel",
  "keyPrefix",
  "defaultTtl",
  "serializer",
  "timeout",
];

/** The checked options, defaults applied. */
export function checkRedisOptions(options: RedisCacheOptions): {
  url: string;
  client: RedisClientLike | RedisSentinelLike | undefined;
  cluster: ClusterConnectionOptions | undefined;
  sentinel: SentinelOptions | undefined;
  keyPrefix: string;
  timeout: number;
} {
  checkOptionNames("RedisCache", options, REDIS_OPTION_NAMES);
  const { url = DEFAULT_REDIS_URL, client, keyPrefix = "" } = options;
  const { cluster, sentinel } = options;
  if (typeof keyPrefix !== "string") {
    throw new TypeError(
      `Cannot create RedisCache: keyPrefix must be a string, received ${_describe(keyPrefix)}`,
    );
  }
  const timeout = checkTimeout("RedisCache", options.timeout, 5000);
  const given = (["url", "client", "cluster", "sentinel"] as const).filter((name) =>
    options[name] !== undefined
  );
  if (given.length > 1) {
    throw new TypeError(
      `Cannot create RedisCache: give one of url, client, cluster or sentinel, received ${
        given.join(" and ")
      }`,
    );
  }
  if (
    client !== undefined && !isNodeClient(client) && !isClusterClient(client) &&
    !isSentinelClient(client)
  ) {
    throw new TypeError(
      "Cannot create RedisCache: client must be a node-redis client (from createClient, " +
        `createCluster or createSentinel), received ${_describe(client)}`,
    );
  }
  if (cluster !== undefined) {
    const nodes = (cluster as { rootNodes?: unknown })?.rootNodes;
    if (
      !Array.isArray(nodes) || nodes.length === 0 ||
      !nodes.every((node) => typeof node?.url === "string" && /^rediss?:\/\//i.test(node.url))
    ) {
      throw new TypeError(
        "Cannot create RedisCache: cluster must be createCluster options with rootNodes " +
          `[{ url: "redis://host:port" }, …], received rootNodes ${
            redactCredentials(_describe(nodes))
          }`,
      );
    }
    return {
      url,
      client: undefined,
      cluster: { cluster, timeout },
      sentinel: undefined,
      keyPrefix,
      timeout,
    };
  }
  if (sentinel !== undefined) {
    const { name, sentinelRootNodes: nodes } = (sentinel ?? {}) as Partial<SentinelOptions>;
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `Cannot create RedisCache: sentinel.name must be the master's name, received ${
          _describe(name)
        }`,
      );
    }
    if (
      !Array.isArray(nodes) || nodes.length === 0 ||
      !nodes.every((node) => typeof node?.host === "string" && Number.isInteger(node?.port))
    ) {
      throw new TypeError(
        "Cannot create RedisCache: sentinel.sentinelRootNodes must be [{ host, port }, …], received " +
          _describe(nodes),
      );
    }
    return {
      url,
      client: undefined,
      cluster: undefined,
      sentinel: sentinel as SentinelOptions,
      keyPrefix,
      timeout,
    };
  }
  if (isClusterClient(client)) {
    return {
      url,
      client: undefined,
      cluster: { client, timeout },
      sentinel: undefined,
      keyPrefix,
      timeout,
    };
  }
  const bad = (why: string) =>
    new TypeError(
      `Cannot create RedisCache: url must be a redis:// or rediss:// URL${why}, received ${
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
  return { url, client, cluster: undefined, sentinel: undefined, keyPrefix, timeout };
}

/** What a `redis+cluster://` or `redis+sentinel://` URL holds for `RedisCache` (its query aside). */
export type RedisTopologyUrlOptions =
  | { cluster: { rootNodes: { url: string }[]; defaults?: Record<string, unknown> } }
  | {
    sentinel: {
      name: string;
      sentinelRootNodes: { host: string; port: number }[];
      nodeClientOptions?: Record<string, unknown>;
    };
  };

/**
 * Reads the authority and path of `redis+cluster://[user:pass@]h1:p1,h2:p2`
 * (root nodes; default port 6379) or
 * `redis+sentinel://[user:pass@]s1:p1,s2:p2/mymaster` (sentinels, default
 * port 26379; the path is the master's name). A user and password are the
 * data nodes' (not the sentinels').
 *
 * @param scheme `"redis+cluster"` or `"redis+sentinel"` (lower case).
 * @param authority What lies between `://` and the path.
 * @param path The decoded path.
 * @param fail Throws the URL parser's TypeError with this reason.
 * @returns `RedisCache` options: `cluster` or `sentinel`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redisTopologyOptions } from "./_options.ts";
 *
 * const fail = (why: string): never => {
 *   throw new TypeError(why);
 * };
 * assert.deepEqual(redisTopologyOptions("redis+cluster", "10.0.0.1:7000,10.0.0.2", "", fail), {
 *   cluster: { rootNodes: [{ url: "redis://10.0.0.1:7000" }, { url: "redis://10.0.0.2:6379" }] },
 * });
 * assert.deepEqual(redisTopologyOptions("redis+sentinel", "s1,s2:26380", "/mymaster", fail), {
 *   sentinel: {
 *     name: "mymaster",
 *     sentinelRootNodes: [{ host: "s1", port: 26379 }, { host: "s2", port: 26380 }],
 *   },
 * });
 * ```
 */
export function redisTopologyOptions(
  scheme: string,
  authority: string,
  path: string,
  fail: (why: string) => never,
): RedisTopologyUrlOptions {
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? "" : authority.slice(0, at);
  const hosts = authority.slice(at + 1);
  if (hosts === "") fail(`${scheme}:// needs host:port[,host:port…]`);
  const sentinel = scheme === "redis+sentinel";
  const port = sentinel ? 26379 : 6379;
  const nodes = hosts.split(",").map((spec) => {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/.exec(spec);
    const number = match?.[2] === undefined ? port : Number(match[2]);
    if (!match || number < 1 || number > 65_535) {
      return fail(`expected host:port in ${scheme}://, received "${spec}"`);
    }
    return { host: match[1]!, port: number };
  });
  const credentials: Record<string, unknown> = {};
  if (userinfo !== "") {
    const colon = userinfo.indexOf(":");
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    const password = colon < 0 ? "" : userinfo.slice(colon + 1);
    try {
      if (user !== "") credentials.username = decodeURIComponent(user);
      if (password !== "") credentials.password = decodeURIComponent(password);
    } catch {
      fail("the user and password must be percent-encoded");
    }
  }
  const extra = Object.keys(credentials).length > 0;
  if (sentinel) {
    const name = path.replace(/^\//, "");
    if (name === "" || name.includes("/")) {
      fail(
        `${scheme}:// needs the master's name as its path, as in redis+sentinel://host:26379/mymaster`,
      );
    }
    return {
      sentinel: {
        name,
        sentinelRootNodes: nodes,
        ...(extra ? { nodeClientOptions: credentials } : {}),
      },
    };
  }
  if (path !== "" && path !== "/") {
    fail(`${scheme}:// takes no path (a cluster has only database 0), received "${path}"`);
  }
  return {
    cluster: {
      rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
      ...(extra ? { defaults: credentials } : {}),
    },
  };
}
