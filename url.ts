/**
 * {@linkcode cacheFromUrl}: pick and configure a backend from one string, the
 * way applications choose a cache from an environment variable.
 *
 * @module
 */
import { _describe, type Cache, redactCredentials } from "./cache.ts";
import { MemoryCache } from "./backends/memory.ts";
import { NullCache } from "./backends/null.ts";
import { UwsgiCache } from "./backends/uwsgi.ts";
import { DenoKvCache } from "./backends/deno_kv.ts";
import { RedisCache } from "./backends/redis.ts";
import { redisTopologyOptions, type RedisTopologyUrlOptions } from "./backends/redis/options.ts";
import { MemcachedCache } from "./backends/memcached.ts";
import { FileSystemCache } from "./backends/filesystem.ts";
import { POLICIES, type PolicyName } from "./policies/policy.ts";

/** The constructor options each URL scheme produces, by scheme. */
export interface SchemeOptions {
  /** `memory://?maxEntries=1000&maxBytes=…&defaultTtl=…&policy=lru&clone=false` */
  memory: {
    maxEntries?: number;
    maxBytes?: number;
    defaultTtl?: number;
    policy?: PolicyName;
    clone?: boolean;
  };
  /** `null://` */
  null: { defaultTtl?: number };
  /** `file:///abs/dir` or `file://?appName=x`, plus `maxEntries`, `defaultTtl`, `mode=0600` */
  file: { dir?: string; appName?: string; maxEntries?: number; defaultTtl?: number; mode?: number };
  /** `redis://[user:password@]host[:port][/db]?keyPrefix=app:&defaultTtl=…&timeout=…` (or `rediss://`) */
  redis:
    & ({ url: string } | RedisTopologyUrlOptions)
    & { keyPrefix?: string; defaultTtl?: number; timeout?: number };
  /** `memcached://host:port,host2:port?keyPrefix=…&defaultTtl=…&timeout=…` */
  memcached: { servers: string[]; keyPrefix?: string; defaultTtl?: number; timeout?: number };
  /** `uwsgi://host:port/cachename?defaultTtl=…&timeout=…`; no name: the server's first cache */
  uwsgi: { server: string; cache?: string; defaultTtl?: number; timeout?: number };
  /** `denokv://` or `denokv:///path/to/kv.db`, `?prefix=app&prefix=cache&defaultTtl=…` */
  denokv: { path?: string; prefix?: string[]; defaultTtl?: number };
}

/** A scheme `cacheFromUrl` knows (`rediss` is read as `redis`). */
export type CacheScheme = keyof SchemeOptions;

/** What {@linkcode parseCacheUrl} found: the scheme and its constructor options. */
export type ParsedCacheUrl = {
  [S in CacheScheme]: { scheme: S; options: SchemeOptions[S] };
}[CacheScheme];

type Factory<S extends CacheScheme> = (
  options: SchemeOptions[S] & Record<string, unknown>,
) => Cache;

/** One constructor per scheme; a new backend is one line here. */
const BACKENDS: { [S in CacheScheme]: Factory<S> } = {
  memory: (options) => new MemoryCache(options),
  null: (options) => new NullCache(options),
  file: (options) => new FileSystemCache(options),
  redis: (options) => new RedisCache(options),
  memcached: (options) => new MemcachedCache(options),
  uwsgi: (options) => new UwsgiCache(options),
  denokv: (options) => new DenoKvCache(options),
};

const PARAMS: { [S in CacheScheme]: readonly string[] } = {
  memory: ["maxEntries", "maxBytes", "defaultTtl", "policy", "clone"],
  null: ["defaultTtl"],
  file: ["appName", "maxEntries", "defaultTtl", "mode"],
  redis: ["keyPrefix", "defaultTtl", "timeout"],
  memcached: ["keyPrefix", "defaultTtl", "timeout"],
  uwsgi: ["defaultTtl", "timeout"],
  denokv: ["prefix", "defaultTtl"],
};

const SCHEMES =
  "memory://, null://, file://, redis:// (or rediss://), memcached://, uwsgi://, denokv://";

// scheme :// authority path ?query #fragment
const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/;

/**
 * The credentials a cache URL may carry, as every form an error could quote them in:
 * everything between `://` and the last `@` (the userinfo, even when the password holds an
 * unencoded `@`, `/`, `?` or `#`), its percent-decoded form, and the password alone.
 */
function secretsOf(text: string): string[] {
  const start = text.indexOf("://");
  const end = text.lastIndexOf("@");
  if (start < 0 || end <= start + 3) return [];
  const userinfo = text.slice(start + 3, end);
  const colon = userinfo.indexOf(":");
  const password = colon < 0 ? "" : userinfo.slice(colon + 1);
  const forms = [userinfo, password];
  for (const form of [userinfo, password]) {
    try {
      forms.push(decodeURIComponent(form));
    } catch {
      // not percent-encoding: the raw form is already listed
    }
  }
  // A password of one or two characters would mask ordinary letters everywhere; the
  // whole userinfo is always masked.
  return [...new Set(forms)].filter((form, i) => i === 0 || form.length >= 3)
    .sort((a, b) => b.length - a.length);
}

/** `text` without any of `secrets`, and without credentials of any URL it quotes. */
function hide(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret !== "") out = out.replaceAll(secret, "***");
  return redactCredentials(out);
}

/**
 * Removes `secrets` from an error a constructor threw, its causes and their stacks, in
 * place, so nothing thrown through {@linkcode cacheFromUrl} carries the URL's credentials.
 */
function scrub(error: unknown, secrets: readonly string[], seen = new Set<unknown>()): void {
  if (!(error instanceof Error) || seen.has(error)) return;
  seen.add(error);
  try {
    error.message = hide(error.message, secrets);
    if (typeof error.stack === "string") error.stack = hide(error.stack, secrets);
  } catch {
    // a frozen error: its text is what it is
  }
  scrub(error.cause, secrets, seen);
  if (error instanceof AggregateError) {
    for (const inner of error.errors) scrub(inner, secrets, seen);
  }
}

/**
 * Reads a cache URL into a scheme and the options of that scheme's
 * constructor, without creating anything. Query parameters are checked
 * strictly: numbers are integers (ms for `defaultTtl` and `timeout`), and an
 * unknown or repeated parameter is an error.
 *
 * @param url A URL such as `memory://?maxEntries=1000` or `redis://:pw@host:6379/0?keyPrefix=app:`.
 * @returns `{ scheme, options }`; see {@linkcode SchemeOptions}.
 * @throws {TypeError} An unknown scheme or a bad parameter, listing what is
 * accepted (credentials in the URL are shown as `***`).
 *
 * @example Read a URL from the environment
 * ```ts
 * import { parseCacheUrl } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseCacheUrl("memcached://10.0.0.1:11211,10.0.0.2?keyPrefix=app:"), {
 *   scheme: "memcached",
 *   options: { servers: ["10.0.0.1:11211", "10.0.0.2:11211"], keyPrefix: "app:" },
 * });
 * ```
 */
export function parseCacheUrl(url: string | URL): ParsedCacheUrl {
  const text = url instanceof URL ? url.href : url;
  if (typeof text !== "string") {
    throw new TypeError(
      `Cannot use cache URL: expected a string or URL, received ${_describe(url)}`,
    );
  }
  const secrets = secretsOf(text);
  // An "@" after the host part is either part of a path or query (a directory "x@2") or a
  // password with an unencoded "/", "?" or "#". Messages then quote no piece of the URL.
  let spread = false;
  const fail = (why: string): never => {
    const detail = spread ? why.replace(/"[^"]*"/g, '"***"') : why;
    throw new TypeError(
      `Cannot use cache URL ${_describe(hide(text, secrets))}: ${hide(detail, secrets)}`,
    );
  };
  const parts = URL_PARTS.exec(text.trim());
  if (!parts) return fail(`expected scheme://…, one of ${SCHEMES}`);
  const [, rawScheme = "", authority = "", path = "", query = "", fragment] = parts;
  spread = secrets.length > 0 && !authority.includes("@");
  const lower = rawScheme.toLowerCase();
  const scheme = lower === "rediss" ? "redis" : lower;
  if (lower === "redis+cluster" || lower === "redis+sentinel") {
    // redis+cluster://h1:p1,h2:p2?… and redis+sentinel://s1:p1,s2:p2/mymaster?…
    if (fragment !== undefined) fail("a fragment (#…) has no meaning here");
    const params = readParams("redis", query, fail);
    const topology = redisTopologyOptions(lower, authority, decodePath(path, fail), fail);
    return { scheme: "redis", options: { ...topology, ...params } };
  }
  if (!Object.hasOwn(PARAMS, scheme)) {
    return fail(`unknown scheme "${rawScheme}"; expected one of ${SCHEMES}`);
  }
  if (authority.includes("@") && scheme !== "redis") {
    fail(`${scheme}:// takes no user or password`);
  }
  if (fragment !== undefined) fail("a fragment (#…) has no meaning here");
  const params = readParams(scheme as CacheScheme, query, fail);
  const decoded = decodePath(path, fail);
  const noHost = () =>
    authority !== "" && fail(`${scheme}:// takes no host, received "${authority}"`);
  const noPath = () =>
    decoded !== "" && decoded !== "/" && fail(`${scheme}:// takes no path, received "${decoded}"`);

  switch (scheme as CacheScheme) {
    case "memory":
      noHost(), noPath();
      return { scheme: "memory", options: params };
    case "null":
      noHost(), noPath();
      return { scheme: "null", options: params };
    case "file": {
      if (authority !== "" && authority !== "localhost") {
        fail(
          `file:// takes an absolute path (file:///var/cache/app) or ?appName=, not a host ("${authority}")`,
        );
      }
      const dir = /^\/[A-Za-z]:[/\\]/.test(decoded)
        ? decoded.slice(1)
        : decoded.replace(/(.)\/+$/, "$1");
      const hasDir = dir !== "" && dir !== "/";
      if (hasDir && params.appName !== undefined) fail("give a directory or appName, not both");
      if (!hasDir && params.appName === undefined) {
        fail("give a directory (file:///var/cache/app) or ?appName=");
      }
      return { scheme: "file", options: hasDir ? { dir, ...params } : params };
    }
    case "redis": {
      if (authority === "" || authority.endsWith("@")) fail("redis:// needs a host");
      if (!/^(\/\d*)?$/.test(path)) {
        fail(`the path must be a database number like /0, received "${decoded}"`);
      }
      const at = authority.lastIndexOf("@");
      hostPort(authority.slice(at + 1), 6379, fail);
      return { scheme: "redis", options: { url: `${lower}://${authority}${path}`, ...params } };
    }
    case "memcached": {
      noPath();
      const servers = authority === ""
        ? ["127.0.0.1:11211"]
        : authority.split(",").map((server) => hostPort(server, 11211, fail));
      return { scheme: "memcached", options: { servers, ...params } };
    }
    case "uwsgi": {
      if (authority === "") {
        fail("uwsgi:// needs host:port, as in uwsgi://127.0.0.1:3031/cachename");
      }
      const server = hostPort(authority, undefined, fail);
      const cache = decoded.slice(1);
      if (cache.includes("/")) {
        fail(`the path must be the cache name, as in uwsgi://${server}/cachename`);
      }
      return {
        scheme: "uwsgi",
        options: cache === "" ? { server, ...params } : { server, cache, ...params },
      };
    }
    case "denokv":
      noHost();
      return {
        scheme: "denokv",
        options: decoded === "" || decoded === "/" ? params : { path: decoded, ...params },
      };
  }
}

function decodePath(path: string, fail: (why: string) => never): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return fail(`the path ${JSON.stringify(path)} is not valid percent-encoding`);
  }
}

/** `host[:port]` or `[ipv6][:port]` → `host:port`, checked. */
function hostPort(
  text: string,
  defaultPort: number | undefined,
  fail: (why: string) => never,
): string {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::(\d{1,5}))?$/.exec(text);
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (!match || port === undefined || port < 1 || port > 65535) {
    fail(`expected host${defaultPort === undefined ? ":port" : "[:port]"}, received "${text}"`);
  }
  return `${match![1]}:${port}`;
}

type AnyOptions = Record<string, never>;

function readParams(scheme: CacheScheme, query: string, fail: (why: string) => never): AnyOptions {
  const accepted = PARAMS[scheme];
  const options: Record<string, unknown> = {};
  const search = new URLSearchParams(query);
  for (const name of new Set(search.keys())) {
    if (!accepted.includes(name)) {
      fail(
        `unknown parameter "${name}" for ${scheme}://; accepted: ${accepted.join(", ") || "none"}`,
      );
    }
    const values = search.getAll(name);
    if (name === "prefix") {
      options.prefix = values;
      continue;
    }
    if (values.length > 1) fail(`parameter "${name}" is given ${values.length} times`);
    const value = values[0]!;
    const bad = (expected: string) =>
      fail(`${name} must be ${expected}, received ${JSON.stringify(value)}`);
    switch (name) {
      case "maxEntries":
      case "maxBytes":
      case "defaultTtl":
      case "timeout":
        if (!/^\d{1,15}$/.test(value)) {
          bad(`an integer >= 0${name === "defaultTtl" || name === "timeout" ? " (ms)" : ""}`);
        }
        options[name] = Number(value);
        break;
      case "mode":
        if (!/^(0o|0)?[0-7]{3}$/.test(value)) bad("an octal file mode such as 0600");
        options.mode = parseInt(value.slice(-3), 8);
        break;
      case "clone":
        if (value !== "true" && value !== "false") bad("true or false");
        options.clone = value === "true";
        break;
      case "policy":
        if (!Object.hasOwn(POLICIES, value)) bad(`one of ${Object.keys(POLICIES).join(", ")}`);
        options.policy = value;
        break;
      default: // appName, keyPrefix: any text
        if (name === "appName" && (!/^[\w.-]+$/.test(value) || /^\.+$/.test(value))) {
          bad("a name of letters, digits, '.', '_' or '-'");
        }
        options[name] = value;
    }
  }
  return options as AnyOptions;
}

/**
 * Creates a cache from a URL: `memory://?maxEntries=1000`, `null://`,
 * `file:///var/cache/app` or `file://?appName=myapp`,
 * `redis://[:password@]host:port/db?keyPrefix=app:`,
 * `memcached://host:port,host2:port`, `uwsgi://host:port/cachename`,
 * `denokv://` or `denokv:///path`. See {@linkcode SchemeOptions} for every
 * parameter.
 *
 * @param url The URL; see {@linkcode parseCacheUrl}.
 * @param options More constructor options (`serializer`, `now`, `onEvict`, …),
 * merged over what the URL gives.
 * @returns The new cache.
 * @throws {TypeError} An unknown scheme or a bad parameter, listing what is accepted.
 *
 * @example Configure the cache from the environment
 * ```ts
 * import { cacheFromUrl } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = cacheFromUrl(Deno.env.get("CACHE_URL") ?? "memory://?maxEntries=1000");
 * await cache.set("greeting", "hello");
 * assert.equal(await cache.get("greeting"), "hello");
 * ```
 */
export function cacheFromUrl(url: string | URL, options: Record<string, unknown> = {}): Cache {
  const { scheme, options: parsed } = parseCacheUrl(url);
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `Cannot create cache from URL: options must be an object, received ${_describe(options)}`,
    );
  }
  const factory = BACKENDS[scheme] as Factory<CacheScheme>;
  try {
    return factory(
      { ...parsed, ...options } as SchemeOptions[CacheScheme] & Record<string, unknown>,
    );
  } catch (error) {
    // The backend's checks may quote the URL or a server spec built from it.
    scrub(error, secretsOf(url instanceof URL ? url.href : url));
    throw error;
  }
}
