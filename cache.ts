/**
 * The contract every backend implements: the {@linkcode Cache} interface, the
 * statistics shape, the error classes and the shared argument checks.
 *
 * @module
 */
import type { GetOrSetOptions, Produce, ProduceContext } from "./backends/_get_or_set.ts";
import type { NamespaceOptions } from "./backends/_namespace.ts";
import type { SetOptions } from "./backends/_tags.ts";
export type { GetOrSetOptions, Produce, ProduceContext };

/** Counters kept by every cache instance since it was created. */
export interface CacheStats {
  /** Reads that found a live entry (`get`, `getMany`, `getDict`, `has`). */
  hits: number;
  /** Reads that found nothing, or only an expired entry. */
  misses: number;
  /** Entries written by `set`, `add`, `setMany`, `inc` and `dec`. */
  sets: number;
  /** Live entries removed by `delete` and `deleteMany`. */
  deletes: number;
  /** Entries the backend evicted to stay within its bounds (where it knows). */
  evictions: number;
}

/**
 * One interface, many backends. Every method is async, even on backends that
 * could answer synchronously, so code never changes with the backend.
 *
 * Time is in milliseconds: `ttl` undefined means the cache's `defaultTtl`,
 * `0` means the entry never expires. A miss is `undefined`.
 *
 * @example Use any backend through the interface
 * ```ts
 * import { type Cache, MemoryCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * async function greet(cache: Cache, name: string): Promise<string> {
 *   const hit = await cache.get<string>(`greeting:${name}`);
 *   if (hit !== undefined) return hit;
 *   const greeting = `Hello, ${name}`;
 *   await cache.set(`greeting:${name}`, greeting, 60_000);
 *   return greeting;
 * }
 *
 * await using cache = new MemoryCache();
 * assert.equal(await greet(cache, "Ada"), "Hello, Ada");
 * assert.equal(await cache.get("greeting:Ada"), "Hello, Ada");
 * ```
 */
export interface Cache extends AsyncDisposable {
  /** The value stored under `key`, or `undefined` on a miss. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** The values of `keys`, in order (duplicates included); `undefined` for misses. */
  getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]>;
  /** A map from each key to its value (or `undefined` for a miss). */
  getDict<T = unknown>(
    keys: readonly string[],
  ): Promise<Map<string, T | undefined>>;
  /** Stores `value`; `true` when stored. The third argument: a ttl in ms, or `{ ttl, tags }`. */
  set(key: string, value: unknown, ttl?: number | SetOptions): Promise<boolean>;
  /** Stores `value` only when `key` holds no live entry; `true` when stored. */
  add(key: string, value: unknown, ttl?: number | SetOptions): Promise<boolean>;
  /** Stores every entry; resolves to the keys that were stored. */
  setMany(
    entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
    ttl?: number | SetOptions,
  ): Promise<string[]>;
  /** Removes `key`; `true` when a live entry was removed. */
  delete(key: string): Promise<boolean>;
  /** Removes every key; resolves to the keys whose live entries were removed. */
  deleteMany(keys: readonly string[]): Promise<string[]>;
  /** Whether `key` holds a live entry. */
  has(key: string): Promise<boolean>;
  /** Removes this cache's entries (and only them); `true` when it worked. */
  clear(): Promise<boolean>;
  /** Adds `delta` (default 1) to the integer under `key` (missing = 0); resolves to the new value. */
  inc(key: string, delta?: number): Promise<number>;
  /** Subtracts `delta` (default 1) from the integer under `key`; resolves to the new value. */
  dec(key: string, delta?: number): Promise<number>;
  /**
   * The cached value of `key`, or else `produce()`'s result, stored and
   * returned. Concurrent callers for one key share one backend read and one
   * `produce()` call. `options` is a ttl in ms or {@linkcode GetOrSetOptions}
   * (stale-while-revalidate, grace, timeouts, refresh-ahead, lock); `produce`
   * receives a {@linkcode ProduceContext}.
   */
  getOrSet<T>(
    key: string,
    produce: Produce<T>,
    options?: number | GetOrSetOptions,
  ): Promise<T>;
  /** Counters of this instance since it was created. */
  stats(): CacheStats;
  /** Releases what the cache opened (connections, handles). Idempotent. */
  close(): Promise<void>;
  /**
   * The remaining lifetime of `key` in ms: `0` when it never expires, `undefined` on a miss.
   * Rejects with {@linkcode CacheUnsupportedError} on a backend that cannot tell.
   */
  ttl(key: string): Promise<number | undefined>;
  /**
   * Gives a live `key` a new expiry, `ttl` ms from now (`0` = never; undefined = the
   * `defaultTtl`); `true` when the key was live, `false` (nothing changed) on a miss.
   * Rejects with {@linkcode CacheUnsupportedError} on a backend that cannot do it.
   */
  touch(key: string, ttl?: number): Promise<boolean>;
  /**
   * This cache's live keys that start with `prefix` (default: all), as an async
   * iterator; never another namespace's keys or the backend's own bookkeeping.
   * Order is unspecified; keys written or removed during the iteration may or may not be
   * seen, and a backend that scans (Redis) may yield a key twice while the server resizes. Iterating rejects with {@linkcode CacheUnsupportedError} on a backend that cannot
   * list (memcached, uWSGI).
   */
  keys(prefix?: string): AsyncIterable<string>;
  /**
   * A view of this cache under its own prefix whose `clear()` drops only the view's entries
   * (one generation bump, no scan). See `NamespaceOptions` for the cross-process bound.
   */
  namespace(name: string, options?: NamespaceOptions): Cache;
  /**
   * Drops every entry stored with any of `tags` (`set(key, value, { tags })`): one version bump
   * per tag, no scan. Rejects with a TypeError unless `tags` is an array of non-empty strings.
   */
  invalidateTags(tags: readonly string[]): Promise<void>;
}

/** Options every backend accepts. */
export interface CacheOptions {
  /** Lifetime in ms of entries stored without an explicit ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
}

/** The default `defaultTtl`: 300 000 ms, Python cachelib's 300 seconds. */
export const DEFAULT_TTL = 300_000;

/**
 * The base of every error this library throws on purpose (other than the
 * built-in `TypeError` / `RangeError` for bad arguments).
 *
 * @example Catch any cache failure
 * ```ts
 * import { CacheError } from "@cachelib/cachelib";
 *
 * try {
 *   throw new CacheError("Cannot read key \"a\": disk full", { cause: new Error("ENOSPC") });
 * } catch (error) {
 *   if (error instanceof CacheError) console.log(error.message, error.cause);
 * }
 * ```
 */
export class CacheError extends Error {
  /** The call that failed (`"get"`, `"setMany"`, `"connect"`, …), where the thrower knows it. */
  declare readonly op?: string;
  /** The key the failed call was about, where there is one. */
  declare readonly key?: string;

  /**
   * Creates an error.
   *
   * @param message What failed, naming the key where there is one.
   * @param options `cause`: the underlying error; `op` and `key`: the failed call and its key,
   * so that code can tell failures apart without reading the message.
   */
  constructor(message: string, options?: CacheErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    if (options?.op !== undefined) (this as { op?: string }).op = options.op;
    if (options?.key !== undefined) (this as { key?: string }).key = options.key;
  }
}

/**
 * Options of {@linkcode CacheError}: the `cause`, and the call and key that failed.
 *
 * @example An error that names its call and key as fields
 * ```ts
 * import { CacheError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheError('Cannot get key "a": disk full', { op: "get", key: "a" });
 * assert.equal(error.op, "get");
 * assert.equal(error.key, "a");
 * ```
 */
export interface CacheErrorOptions extends ErrorOptions {
  /** The call that failed. */
  op?: string | undefined;
  /** The key the call was about. */
  key?: string | undefined;
}

/**
 * A server is unreachable, refused the connection, dropped it or did not
 * answer within the timeout.
 *
 * @example Tell an outage from a miss
 * ```ts
 * import { CacheConnectionError, CacheError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheConnectionError("Cannot reach redis at 127.0.0.1:1: connection refused");
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.name, "CacheConnectionError");
 * ```
 */
export class CacheConnectionError extends CacheError {}

/**
 * A value could not be encoded, or stored bytes could not be decoded.
 *
 * @example Catch a value that cannot be stored
 * ```ts
 * import { MemoryCache, SerializationError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new MemoryCache();
 * let caught: unknown;
 * try {
 *   await cache.set("k", { run() {} });
 * } catch (error) {
 *   caught = error;
 * }
 * assert.ok(caught instanceof SerializationError);
 * ```
 */
export class SerializationError extends CacheError {}

/**
 * The backend cannot do this operation at all (memcached cannot list its keys, for
 * example): not a failure of this call, so retrying will not help. `op` names the
 * operation and the message says why the backend cannot.
 *
 * @example Fall back when a backend cannot list its keys
 * ```ts
 * import { CacheError, CacheUnsupportedError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheUnsupportedError(
 *   "Cannot keys: MemcachedCache cannot list keys: memcached has no command that lists them",
 *   { op: "keys" },
 * );
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.op, "keys");
 * ```
 */
export class CacheUnsupportedError extends CacheError {}

/**
 * What a failed call was doing, for a message: `get key "a"`, or just `clear`
 * for a call without a key. `Cannot ${_opAndKey(op, key)}: …` is every
 * backend's failure message.
 */
export function _opAndKey(op: string, key?: string): string {
  return key === undefined ? op : `${op} key ${_describe(key)}`;
}

/** Quotes a value for an error message: strings in quotes, others as their type and text. */
export function _describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value)
    ? "an array"
    : `an object (${value.constructor?.name ?? "null prototype"})`;
}

/**
 * Throws a `TypeError` unless `key` is a string.
 *
 * @param op The operation, for the message (`"get"`, `"set"`, …).
 * @param key The argument to check.
 */
export function checkKey(op: string, key: unknown): asserts key is string {
  if (typeof key !== "string") {
    throw new TypeError(
      `Cannot ${op}: key must be a string, received ${_describe(key)}`,
    );
  }
}

/** Throws a `TypeError` unless `keys` is an array of strings. */
export function checkKeys(
  op: string,
  keys: unknown,
): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) {
    throw new TypeError(
      `Cannot ${op}: keys must be an array of strings, received ${_describe(keys)}`,
    );
  }
  for (const key of keys) checkKey(op, key);
}

/**
 * Validates a ttl and resolves `undefined` to `defaultTtl`.
 *
 * @returns The ttl in ms; `0` means never expire.
 * @throws {TypeError} A ttl that is not a number.
 * @throws {RangeError} A negative, NaN or infinite ttl.
 */
export function resolveTtl(
  op: string,
  key: string,
  ttl: unknown,
  defaultTtl: number,
): number {
  if (ttl === undefined) return defaultTtl;
  if (typeof ttl !== "number") {
    throw new TypeError(
      `Cannot ${op} key ${_describe(key)}: ttl must be a number of milliseconds, received ${
        _describe(ttl)
      }`,
    );
  }
  if (!(ttl >= 0) || ttl === Infinity) {
    throw new RangeError(
      `Cannot ${op} key ${_describe(key)}: ttl must be a finite number >= 0, received ${ttl}`,
    );
  }
  return ttl;
}

/**
 * Validates a constructor's `defaultTtl` option (a finite number >= 0).
 *
 * @param where The class being created, for the message: `Cannot create ${where}: …`.
 */
export function checkDefaultTtl(value: unknown, where = "cache"): number {
  if (value === undefined) return DEFAULT_TTL;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot create ${where}: defaultTtl must be a number of milliseconds, received ${
        _describe(value)
      }`,
    );
  }
  if (!(value >= 0) || value === Infinity) {
    throw new RangeError(
      `Cannot create ${where}: defaultTtl must be a finite number >= 0, received ${value}`,
    );
  }
  return value;
}

/**
 * Throws a `TypeError` for values no backend can store at the top level:
 * `undefined` (indistinguishable from a miss), functions and symbols.
 */
export function checkValue(op: string, key: string, value: unknown): void {
  const type = typeof value;
  if (type === "undefined" || type === "function" || type === "symbol") {
    throw new TypeError(
      `Cannot ${op} key ${_describe(key)}: value must not be ${
        type === "undefined" ? "undefined (it would read back as a miss)" : `a ${type}`
      }, received ${_describe(value)}`,
    );
  }
}

/** Validates an `inc`/`dec` delta: a safe integer. */
export function checkDelta(op: string, key: string, delta: unknown): number {
  if (delta === undefined) return 1;
  if (typeof delta !== "number" || !Number.isSafeInteger(delta)) {
    throw new TypeError(
      `Cannot ${op} key ${_describe(key)}: delta must be a safe integer, received ${
        _describe(delta)
      }`,
    );
  }
  return delta;
}

/**
 * Adds `delta` to a stored value for `inc`/`dec`, checking that the stored
 * value is a safe integer and that the result stays one.
 */
export function addDelta(
  op: string,
  key: string,
  current: unknown,
  delta: number,
): number {
  if (typeof current !== "number" || !Number.isSafeInteger(current)) {
    throw new TypeError(
      `Cannot ${op} key ${_describe(key)}: stored value is not a safe integer, found ${
        _describe(current)
      }`,
    );
  }
  const next = current + delta;
  if (!Number.isSafeInteger(next)) {
    throw new RangeError(
      `Cannot ${op} key ${_describe(key)}: result ${next} is outside the safe integer range`,
    );
  }
  return next;
}

/** Normalises `setMany`'s argument (an iterable of pairs or a record) to pairs. */
export function entriesOf(
  op: string,
  entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
): [string, unknown][] {
  if (entries === null || typeof entries !== "object") {
    throw new TypeError(
      `Cannot ${op}: entries must be an iterable of [key, value] pairs or a record, received ${
        _describe(entries)
      }`,
    );
  }
  if (Symbol.iterator in entries) {
    const pairs: [string, unknown][] = [];
    for (const pair of entries as Iterable<readonly [string, unknown]>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(
          `Cannot ${op}: each entry must be a [key, value] pair, received ${_describe(pair)}`,
        );
      }
      pairs.push([pair[0], pair[1]]);
    }
    return pairs;
  }
  return Object.entries(entries);
}

/**
 * Rejects option names a constructor does not know, so a misspelled or foreign option
 * (`new RedisCache({ host })`) fails loudly instead of being ignored.
 *
 * @param where The constructor, for the message (`"RedisCache"`).
 * @param options The options object as the caller passed it (`undefined` is fine).
 * @param accepted Every option name the constructor reads.
 * @throws {TypeError} Naming the unknown option(s) and listing the accepted ones, or options
 * that are not an object (`null`, a string).
 *
 * @example
 * ```ts
 * import { checkOptionNames } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => checkOptionNames("MyCache", { hots: "x" }, ["host", "port"]),
 *   { name: "TypeError", message: 'Cannot create MyCache: unknown option "hots" (accepted: host, port)' },
 * );
 * ```
 */
export function checkOptionNames(
  where: string,
  options: object | undefined,
  accepted: readonly string[],
): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    // never the value itself: a string here may be a URL with a password
    throw new TypeError(
      `Cannot create ${where}: options must be an object, received ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  const unknown = Object.keys(options).filter((name) => !accepted.includes(name));
  if (unknown.length === 0) return;
  const names = unknown.map((name) => JSON.stringify(name)).join(", ");
  throw new TypeError(
    `Cannot create ${where}: unknown option${unknown.length > 1 ? "s" : ""} ${names} ` +
      `(accepted: ${[...accepted].sort().join(", ")})`,
  );
}

/**
 * Removes credentials from text that may quote a URL or a `user:pass@host` server spec, so
 * no message, cause or stack the library builds carries a secret. Everything between a
 * scheme's `//` (or the start of a server spec) and the last `@` before the host is replaced
 * by `***`; `password=`/`pass=`/`token=` query parameters lose their values.
 *
 * @param text Any text (an error message, a URL).
 * @returns The text with credentials replaced by `***`.
 *
 * @example
 * ```ts
 * import { redactCredentials } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * assert.equal(redactCredentials("redis://u:pa/ss@h:1"), "redis://***@h:1");
 * assert.equal(redactCredentials("redis://h:6379/0?keyPrefix=a@b"), "redis://h:6379/0?keyPrefix=a@b");
 * assert.equal(redactCredentials("redis://user:p@ss@h:6379/0"), "redis://***@h:6379/0");
 * assert.equal(redactCredentials("bob:s3cret@10.0.0.1:11211"), "***@10.0.0.1:11211");
 * assert.equal(redactCredentials('":s3cret@10.0.0.1"'), '"***@10.0.0.1"');
 * assert.equal(redactCredentials("denokv://x?token=abc&a=1"), "denokv://x?token=***&a=1");
 * assert.equal(redactCredentials("https://kv?access_token=abc"), "https://kv?access_token=***");
 * assert.equal(redactCredentials(`at "http://u:p"w'q\`8;8@h:1/"`), `at "http://***@h:1/"`);
 * assert.equal(redactCredentials('received "user:pw;x,y==@h:1"'), 'received "***@h:1"');
 * assert.equal(redactCredentials('received "user:tok/en/xyz@h:1"'), 'received "***@h:1"');
 * ```
 *
 * A regex cannot tell where a password holding a space ends: a backend that parsed
 * credentials scrubs them by value first with {@linkcode scrubSecrets}.
 */
export function redactCredentials(text: string): string {
  return text
    // scheme://userinfo@host — userinfo may itself contain "@" and ":"; stop at whitespace,
    // quotes and the path.
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s"'`/?#]*@/gi, "$1***@")
    // userinfo holding quotes, a backtick, ";" or ",": up to the last "@" before the host
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*["'`;,][^\s/?#]*@(?=[^\s@])/gi, "$1***@")
    // a password holding an unencoded "/", "?" or "#" (user:pa/ss@host); digits alone after
    // the ":" are a port (host:6379/0?keyPrefix=a@b keeps its text)
    .replace(
      /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s"'`@/?#]*:(?!\d*(?:[/?#\s"'`]|$))[^\s"'`]*@/gi,
      "$1***@",
    )
    // bare server specs: user:pass@host
    .replace(/(^|[\s"'`,(=])[^\s"'`,/@:()=]*:[^\s"'`,/()]*@(?=[^\s@])/g, "$1***@")
    // bare specs whose password holds ";", ",", quotes or "/" (not "//", a scheme's)
    .replace(/(^|[\s"'`(=])[^\s"'`,/@:()=]+:(?!\/\/)[^\s@]*@(?=[\w[])/g, "$1***@")
    .replace(
      /([?&](?:password|pass|passwd|pwd|(?:access_|auth_)?token|secret|auth)=)[^&#\s"'`]*/gi,
      "$1***",
    );
}

/**
 * A call on many keys or servers failed part-way. The fields say what was done before it
 * failed, so nothing changes silently: `stored` (for `setMany`), `deleted` (`deleteMany`),
 * `flushed` (`clear`, the servers flushed), `values` and `unread` (`getMany` over several
 * servers: what the others returned, and the keys not read); a field the call does not
 * apply to is `undefined`. `cause` is the first failure.
 *
 * @example Tell what a failed batch did
 * ```ts
 * import { CacheBatchError, CacheError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheBatchError("Cannot setMany: 1 of 2 keys failed", { stored: ["a"] });
 * assert.ok(error instanceof CacheError);
 * assert.deepEqual(error.stored, ["a"]);
 * assert.equal(error.deleted, undefined);
 * ```
 */
export class CacheBatchError extends CacheError {
  /** The keys `setMany` stored before it failed. */
  readonly stored: readonly string[] | undefined;
  /** The keys `deleteMany` deleted before it failed. */
  readonly deleted: readonly string[] | undefined;
  /** The servers (`host:port`) `clear` flushed before it failed. */
  readonly flushed: readonly string[] | undefined;
  /**
   * What `getMany` read from the servers that answered, in batch order (a
   * key of a failed server is `undefined` here and listed in `unread`).
   */
  readonly values: readonly unknown[] | undefined;
  /** The keys `getMany` could not read (their server failed). */
  readonly unread: readonly string[] | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed and what was done.
   * @param done What the call did before it failed.
   * @param options `cause`: the first failure.
   */
  constructor(
    message: string,
    done: {
      stored?: string[];
      deleted?: string[];
      flushed?: string[];
      values?: unknown[];
      unread?: string[];
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.stored = done.stored;
    this.deleted = done.deleted;
    this.flushed = done.flushed;
    this.values = done.values;
    this.unread = done.unread;
  }
}

/**
 * Removes KNOWN secrets from text: each of `secrets` (a password, a token, a userinfo a
 * backend parsed), in its raw, percent-encoded and percent-decoded forms, and each of those
 * as a JSON string body (how `_describe` quotes it), is replaced by
 * `***`, longest first; then {@linkcode redactCredentials} runs as a second net. Unlike a
 * regex, this finds a password wherever it appears, with spaces or quotes in it. Empty
 * secrets are ignored; the caller passes what it parsed (pass the whole userinfo too, so a
 * one-letter password is still covered by it).
 *
 * @param text Any text (an error message, a stack).
 * @param secrets The credentials the caller knows.
 * @returns The text without them.
 *
 * @example
 * ```ts
 * import { scrubSecrets } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * assert.equal(scrubSecrets("bad pass pa ss word!", ["pa ss word"]), "bad pass ***!");
 * assert.equal(scrubSecrets("at u:p%20w@h", ["p w"]), "at ***@h");
 * assert.equal(scrubSecrets("at p w", ["p%20w"]), "at ***");
 * assert.equal(scrubSecrets('"p\\"w@h"', ['p"w']), '"***@h"');
 * ```
 */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    let decoded = secret;
    try {
      decoded = decodeURIComponent(secret);
    } catch {
      // not percent-encoding: the raw form is listed
    }
    for (const form of [secret, decoded, encodeURIComponent(decoded)]) {
      forms.add(form).add(JSON.stringify(form).slice(1, -1));
    }
  }
  forms.delete("");
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(form, "***");
  }
  return redactCredentials(out);
}

/**
 * A call ran out of time: a producer passed its hard timeout, or a caller waited past its
 * deadline for another process to produce the value under a distributed lock. `op` and `key`
 * name the call.
 *
 * @example Tell a timeout from other failures
 * ```ts
 * import { CacheError, CacheTimeoutError } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const error = new CacheTimeoutError('Cannot getOrSet key "a": timed out', {
 *   op: "getOrSet",
 *   key: "a",
 * });
 * assert.ok(error instanceof CacheError);
 * assert.equal(error.name, "CacheTimeoutError");
 * assert.equal(error.key, "a");
 * ```
 */
export class CacheTimeoutError extends CacheError {}
