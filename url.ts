/**
 * {@linkcode cacheFromUrl}: pick and configure a backend from one string, the
 * way applications choose a cache from an environment variable.
 *
 * @module
 */
import { _describe, type Cache, redactCredentials } from "./cache.ts";
import type { UrlParam, UrlParts, UrlScheme } from "./backends/_url.ts";

export type { UrlParam, UrlParts, UrlScheme };
import { memoryUrl, type MemoryUrlOptions } from "./backends/memory/_url.ts";
import { nullUrl, type NullUrlOptions } from "./backends/null/_url.ts";
import { fileUrl, type FileUrlOptions } from "./backends/filesystem/_url.ts";
import { redisUrl, type RedisUrlOptions } from "./backends/redis/_url.ts";
import { memcachedUrl, type MemcachedUrlOptions } from "./backends/memcached/_url.ts";
import { uwsgiUrl, type UwsgiUrlOptions } from "./backends/uwsgi/_url.ts";
import { denoKvUrl, type DenoKvUrlOptions } from "./backends/deno_kv/_url.ts";

export type {
  DenoKvUrlOptions,
  FileUrlOptions,
  MemcachedUrlOptions,
  MemoryUrlOptions,
  NullUrlOptions,
  RedisUrlOptions,
  UwsgiUrlOptions,
};

/**
 * The constructor options each URL scheme produces, by scheme. Each backend documents its own
 * (`backends/<name>/_url.ts`, beside the backend).
 */
export interface SchemeOptions {
  /** `memory://?maxEntries=1000&maxBytes=…&defaultTtl=…&policy=lru&clone=false` */
  memory: MemoryUrlOptions;
  /** `null://` */
  null: NullUrlOptions;
  /** `file:///abs/dir` or `file://?appName=x`, plus `maxEntries`, `defaultTtl`, `mode=0600` */
  file: FileUrlOptions;
  /** `redis://[user:password@]host[:port][/db]?keyPrefix=app:&defaultTtl=…&timeout=…` (or `rediss://`) */
  redis: RedisUrlOptions;
  /** `memcached://host:port,host2:port?keyPrefix=…&defaultTtl=…&timeout=…` */
  memcached: MemcachedUrlOptions;
  /** `uwsgi://host:port/cachename?defaultTtl=…&timeout=…`; no name: the server's first cache */
  uwsgi: UwsgiUrlOptions;
  /** `denokv://` or `denokv:///path/to/kv.db`, `?prefix=app&prefix=cache&defaultTtl=…` */
  denokv: DenoKvUrlOptions;
}

/**
 * The schemes `cacheFromUrl` knows, each described by its backend (`backends/<name>/_url.ts`),
 * in the order errors list them. A new built-in backend is its import, its entry here and its
 * line in {@linkcode SchemeOptions}; the type checks that the two agree. A backend outside this
 * package registers its scheme with {@linkcode registerCacheScheme} instead.
 */
const SCHEMES: { readonly [S in CacheScheme]: UrlScheme<S, SchemeOptions[S]> } = {
  memory: memoryUrl,
  null: nullUrl,
  file: fileUrl,
  redis: redisUrl,
  memcached: memcachedUrl,
  uwsgi: uwsgiUrl,
  denokv: denoKvUrl,
};

/** A scheme `cacheFromUrl` knows (`rediss` is read as `redis`). */
export type CacheScheme = keyof SchemeOptions;

/** What {@linkcode parseCacheUrl} found: the scheme and its constructor options. */
export type ParsedCacheUrl = {
  [S in CacheScheme]: { scheme: S; options: SchemeOptions[S] };
}[CacheScheme];

type AnyScheme = UrlScheme<string, object>;

/** The built-in descriptors, then the registered ones, in the order errors list them. */
const DESCRIPTORS: AnyScheme[] = Object.values<AnyScheme>(SCHEMES);

/** Every descriptor by the schemes it reads (its own and its aliases). */
const BY_SCHEME = new Map<string, AnyScheme>(
  DESCRIPTORS.flatMap((d) => [d.scheme, ...(d.aliases ?? [])].map((name) => [name, d] as const)),
);

/** The schemes a built-in descriptor reads, which a registration may not take. */
const BUILT_IN = new Set(BY_SCHEME.keys());

/** `memory://, …, redis:// (or rediss://), …` */
function schemeList(): string {
  return DESCRIPTORS.map((d) =>
    `${d.scheme}://${
      d.aliases?.length ? ` (or ${d.aliases.map((a) => `${a}://`).join(", ")})` : ""
    }`
  ).join(", ");
}

/** A scheme name as `parseCacheUrl` reads it: lower case, RFC 3986 scheme characters. */
const SCHEME_NAME = /^[a-z][a-z0-9+.-]*$/;

/**
 * Teaches {@linkcode cacheFromUrl} and {@linkcode parseCacheUrl} a URL scheme of a backend
 * that is not built in, without editing `url.ts`: the backend describes its scheme in a
 * {@linkcode UrlScheme} (query parameters and their types, how a URL becomes options, how to
 * construct), and the application registers it once at startup. The generic work stays
 * `url.ts`'s: splitting the URL, typing and checking the query parameters, keeping
 * credentials out of every message; the scheme appears in "unknown scheme" errors from then
 * on. `parseCacheUrl` reports such a URL as `{ scheme, options }` with the registered name
 * (its type, {@linkcode ParsedCacheUrl}, lists only the built-in schemes).
 *
 * @param descriptor The scheme's description; see `examples/sqlite_cache.ts` for one.
 * @throws {TypeError} A scheme or alias that is not a lower-case scheme name, or one that a
 * built-in or an earlier registration already reads.
 *
 * @example A backend's own scheme
 * ```ts
 * import { cacheFromUrl, MemoryCache, registerCacheScheme, type UrlScheme } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const scratch: UrlScheme<"scratch", { maxEntries?: number | undefined }> = {
 *   scheme: "scratch",
 *   params: { maxEntries: "integer" },
 *   options(url) {
 *     url.noHost();
 *     url.noPath();
 *     return { maxEntries: url.params.maxEntries as number | undefined };
 *   },
 *   create: (options) => new MemoryCache(options),
 * };
 * registerCacheScheme(scratch);
 * await using cache = cacheFromUrl("scratch://?maxEntries=10");
 * assert.ok(cache instanceof MemoryCache);
 * assert.throws(() => registerCacheScheme(scratch), {
 *   name: "TypeError",
 *   message: 'Cannot register cache URL scheme: "scratch" is already registered',
 * });
 * assert.throws(() => registerCacheScheme({ ...scratch, scheme: "redis" }), {
 *   name: "TypeError",
 *   message: 'Cannot register cache URL scheme: "redis" is a built-in scheme',
 * });
 * ```
 */
export function registerCacheScheme<S extends string, O extends object>(
  descriptor: UrlScheme<S, O>,
): void {
  const fail = (why: string): never => {
    throw new TypeError(`Cannot register cache URL scheme: ${why}`);
  };
  if (descriptor === null || typeof descriptor !== "object") {
    fail(`expected a UrlScheme object, received ${_describe(descriptor)}`);
  }
  const { scheme, aliases = [], params, options, create } = descriptor;
  for (const name of [scheme, ...aliases]) {
    if (typeof name !== "string" || !SCHEME_NAME.test(name)) {
      fail(
        `a scheme must be lower-case letters, digits, "+", "-" or ".", received ${_describe(name)}`,
      );
    }
    if (BUILT_IN.has(name)) fail(`"${name}" is a built-in scheme`);
    if (BY_SCHEME.has(name)) fail(`"${name}" is already registered`);
  }
  if (new Set(aliases).size !== aliases.length || aliases.includes(scheme)) {
    fail(`"${scheme}" lists an alias twice`);
  }
  if (params === null || typeof params !== "object") {
    fail(`"${scheme}" needs params (an object), received ${_describe(params)}`);
  }
  if (typeof options !== "function" || typeof create !== "function") {
    fail(`"${scheme}" needs options(url) and create(options) functions`);
  }
  const entry = descriptor as unknown as AnyScheme;
  DESCRIPTORS.push(entry);
  for (const name of [scheme, ...aliases]) BY_SCHEME.set(name, entry);
}

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
  if (!parts) return fail(`expected scheme://…, one of ${schemeList()}`);
  const [, rawScheme = "", authority = "", rawPath = "", query = "", fragment] = parts;
  spread = secrets.length > 0 && !authority.includes("@");
  const lower = rawScheme.toLowerCase();
  const descriptor = BY_SCHEME.get(lower);
  if (descriptor === undefined) {
    return fail(`unknown scheme "${rawScheme}"; expected one of ${schemeList()}`);
  }
  const scheme = descriptor.scheme;
  if (authority.includes("@") && !descriptor.credentials) {
    fail(`${scheme}:// takes no user or password`);
  }
  if (fragment !== undefined) fail("a fragment (#…) has no meaning here");
  const params = readParams(descriptor, query, fail);
  const path = decodePath(rawPath, fail);
  const found: UrlParts = {
    scheme: lower,
    authority,
    rawPath,
    path,
    params,
    fail,
    noHost: () => {
      if (authority !== "") fail(`${scheme}:// takes no host, received "${authority}"`);
    },
    noPath: () => {
      if (path !== "" && path !== "/") fail(`${scheme}:// takes no path, received "${path}"`);
    },
    hostPort: (text, defaultPort) => hostPort(text, defaultPort, fail),
  };
  return { scheme, options: descriptor.options(found) } as ParsedCacheUrl;
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

/** Reads the query against the parameters `descriptor` accepts, typing each value. */
function readParams(
  descriptor: AnyScheme,
  query: string,
  fail: (why: string) => never,
): Record<string, unknown> {
  const accepted = descriptor.params;
  const options: Record<string, unknown> = {};
  const search = new URLSearchParams(query);
  for (const name of new Set(search.keys())) {
    const type = Object.hasOwn(accepted, name) ? accepted[name] : undefined;
    if (type === undefined) {
      const names = Object.keys(accepted).join(", ") || "none";
      fail(`unknown parameter "${name}" for ${descriptor.scheme}://; accepted: ${names}`);
    }
    const values = search.getAll(name);
    if (type === "list") {
      options[name] = values;
      continue;
    }
    if (values.length > 1) fail(`parameter "${name}" is given ${values.length} times`);
    options[name] = readParam(name, type, values[0]!, fail);
  }
  return options;
}

/** One query value as its parameter's type says. */
function readParam(
  name: string,
  type: Exclude<UrlParam, "list">,
  value: string,
  fail: (why: string) => never,
): unknown {
  const bad = (expected: string) =>
    fail(`${name} must be ${expected}, received ${JSON.stringify(value)}`);
  if (typeof type === "object") {
    const names = type.oneOf();
    return names.includes(value) ? value : bad(`one of ${names.join(", ")}`);
  }
  switch (type) {
    case "integer":
    case "ms":
      if (!/^\d{1,15}$/.test(value)) bad(`an integer >= 0${type === "ms" ? " (ms)" : ""}`);
      return Number(value);
    case "fileMode":
      if (!/^(0o|0)?[0-7]{3}$/.test(value)) bad("an octal file mode such as 0600");
      return parseInt(value.slice(-3), 8);
    case "boolean":
      if (value !== "true" && value !== "false") bad("true or false");
      return value === "true";
    case "name":
      if (!/^[\w.-]+$/.test(value) || /^\.+$/.test(value)) {
        bad("a name of letters, digits, '.', '_' or '-'");
      }
      return value;
    case "text":
      return value;
  }
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
  const descriptor = BY_SCHEME.get(scheme)!;
  try {
    return descriptor.create({ ...parsed, ...options });
  } catch (error) {
    // The backend's checks may quote the URL or a server spec built from it.
    scrub(error, secretsOf(url instanceof URL ? url.href : url));
    throw error;
  }
}
