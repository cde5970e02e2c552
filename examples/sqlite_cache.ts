/**
 * A worked example of docs/adding_a_backend.md: a complete backend in one file, over
 * `node:sqlite`. One table holds every cache; a `namespace` column keeps caches that share a
 * database apart, so `clear()` removes only this cache's rows. `tests/example_backend_test.ts`
 * runs the whole conformance suite on it.
 *
 * @example Two caches over one database
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import assert from "node:assert/strict";
 * import { SqliteCache } from "./sqlite_cache.ts";
 *
 * using database = new DatabaseSync(":memory:");
 * await using users = new SqliteCache({ database, namespace: "users" });
 * await using orders = new SqliteCache({ database, namespace: "orders" });
 * await users.set("1", { name: "Ada" });
 * await orders.set("1", { total: 12 });
 * assert.equal(await users.clear(), true);
 * assert.equal(await users.get("1"), undefined);
 * assert.deepEqual(await orders.get("1"), { total: 12 });
 * ```
 *
 * @example `sqlite://` URLs for cacheFromUrl: the application registers the scheme once
 * ```ts
 * import assert from "node:assert/strict";
 * import { cacheFromUrl, parseCacheUrl, registerCacheScheme } from "@cachelib/cachelib";
 * import { SqliteCache, sqliteScheme } from "./sqlite_cache.ts";
 *
 * registerCacheScheme(sqliteScheme);
 * await using cache = cacheFromUrl("sqlite://?namespace=pages");
 * assert.ok(cache instanceof SqliteCache);
 * assert.deepEqual(parseCacheUrl("sqlite:///var/cache/app.db?defaultTtl=60000"), {
 *   scheme: "sqlite",
 *   options: { path: "/var/cache/app.db", defaultTtl: 60_000 },
 * });
 * ```
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  addDelta,
  BaseCache,
  checkOptionNames,
  defaultSerializer,
  SerializationError,
  type SyncSerializer,
  type UrlScheme,
} from "@cachelib/cachelib";

/** Options of {@linkcode SqliteCache}. */
export interface SqliteCacheOptions {
  /** An open database to use (left open by `close()`). Default: one opened at `path`. */
  database?: DatabaseSync | undefined;
  /** The database file opened when no `database` is given. Default `":memory:"`. */
  path?: string | undefined;
  /** The name that keeps this cache's rows apart from other caches in the table. Default `"default"`. */
  namespace?: string | undefined;
  /** Lifetime in ms of entries stored without a ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Turns values into bytes, synchronously (SQLite calls are). Default {@linkcode defaultSerializer}. */
  serializer?: SyncSerializer | undefined;
  /** The clock in ms used for expiry (stored as an absolute time). Default `Date.now`. */
  now?: (() => number) | undefined;
}

const OPTION_NAMES = ["database", "path", "namespace", "defaultTtl", "serializer", "now"];

/** A row as SQLite returns it. */
interface Row {
  value: Uint8Array;
  expires: number;
}

/**
 * A cache in a SQLite table. Every hook runs synchronously on `DatabaseSync`, so a
 * read-then-write (`add`, `inc`) is atomic within the process.
 */
export class SqliteCache extends BaseCache {
  #database: DatabaseSync;
  #owned: boolean;
  /**
   * The `namespace` option: the name that keeps this cache's rows apart in the table (not
   * `namespace`, which every cache has as a method).
   */
  readonly scope: string;
  #now: () => number;
  #serializer: SyncSerializer;
  #select: StatementSync;
  #upsert: StatementSync;
  #remove: StatementSync;
  #removeAll: StatementSync;

  /**
   * Opens (or uses) the database and creates the table when missing.
   *
   * @param options See {@linkcode SqliteCacheOptions}.
   * @throws {TypeError} For an unknown option or a namespace that is not a string.
   */
  constructor(options: SqliteCacheOptions = {}) {
    checkOptionNames("SqliteCache", options, OPTION_NAMES);
    super({ defaultTtl: options.defaultTtl, now: options.now }); // getOrSet judges stale entries by it
    const namespace = options.namespace ?? "default";
    if (typeof namespace !== "string") {
      throw new TypeError(
        `Cannot create SqliteCache: namespace must be a string, received ${typeof namespace}`,
      );
    }
    this.scope = namespace;
    this.#now = options.now ?? Date.now;
    this.#serializer = options.serializer ?? defaultSerializer;
    this.#owned = options.database === undefined;
    this.#database = options.database ?? new DatabaseSync(options.path ?? ":memory:");
    this.#database.exec(`CREATE TABLE IF NOT EXISTS cachelib_entries (
      namespace TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, expires INTEGER NOT NULL,
      PRIMARY KEY (namespace, key)) WITHOUT ROWID`);
    const where = "WHERE namespace = ? AND key = ?";
    this.#select = this.#database.prepare(`SELECT value, expires FROM cachelib_entries ${where}`);
    this.#upsert = this.#database.prepare(
      "INSERT OR REPLACE INTO cachelib_entries (namespace, key, value, expires) VALUES (?, ?, ?, ?)",
    );
    this.#remove = this.#database.prepare(`DELETE FROM cachelib_entries ${where}`);
    this.#removeAll = this.#database.prepare("DELETE FROM cachelib_entries WHERE namespace = ?");
  }

  // SQLite text cannot hold a NUL and would merge lone surrogates: JSON text escapes both.
  #live(key: string): Row | undefined {
    const row = this.#select.get(this.scope, JSON.stringify(key)) as Row | undefined;
    if (row === undefined || row.expires === 0 || row.expires > this.#now()) return row;
    this.#remove.run(this.scope, JSON.stringify(key));
    return undefined;
  }

  #write(op: string, key: string, value: unknown, expires: number): void {
    let bytes: unknown;
    try {
      bytes = this.#serializer.serialize(value);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : `the serializer threw ${String(cause)}`;
      throw new SerializationError(`Cannot ${op} key ${JSON.stringify(key)}: ${why}`, { cause });
    }
    if (!(bytes instanceof Uint8Array)) {
      // SQLite's calls are synchronous: a serializer that answers with a promise cannot be used
      throw new SerializationError(
        `Cannot ${op} key ${JSON.stringify(key)}: the serializer returned ${
          bytes instanceof Promise
            ? "a Promise (SqliteCache needs a synchronous one)"
            : typeof bytes
        }, not a Uint8Array`,
      );
    }
    this.#upsert.run(this.scope, JSON.stringify(key), bytes, expires);
  }

  #read(key: string, row: Row): unknown {
    try {
      return this.#serializer.deserialize(row.value);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : `the serializer threw ${String(cause)}`;
      throw new SerializationError(`Cannot read key ${JSON.stringify(key)}: ${why}`, { cause });
    }
  }

  #expires(ttl: number): number {
    return ttl === 0 ? 0 : this.#now() + ttl;
  }

  // The hooks return promises, which fit hooks typed `Promise<T>` and `T | Promise<T>` alike;
  // a synchronous throw becomes the public call's rejection.

  /** Reads one key; `undefined` on a miss. */
  protected override _get(key: string): Promise<unknown> {
    const row = this.#live(key);
    return Promise.resolve(row && this.#read(key, row));
  }

  /** Stores one entry. */
  protected override _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    this.#write("set", key, value, this.#expires(ttl));
    return Promise.resolve(true);
  }

  /** Stores one entry when the key holds no live entry. */
  protected override _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    if (this.#live(key)) return Promise.resolve(false);
    this.#write("add", key, value, this.#expires(ttl));
    return Promise.resolve(true);
  }

  /** Removes one key; `true` when a live entry was removed. */
  protected override _delete(key: string): Promise<boolean> {
    const live = this.#live(key) !== undefined;
    this.#remove.run(this.scope, JSON.stringify(key));
    return Promise.resolve(live);
  }

  /** Whether the key holds a live entry. */
  protected override _has(key: string): Promise<boolean> {
    return Promise.resolve(this.#live(key) !== undefined);
  }

  /** Removes this namespace's rows, and no other. */
  protected override _clear(): Promise<boolean> {
    this.#removeAll.run(this.scope);
    return Promise.resolve(true);
  }

  /** Adds `delta` to the integer under `key`, keeping its expiry. */
  protected override _addToCounter(
    key: string,
    delta: number,
    ttl: number,
    op: "inc" | "dec",
  ): Promise<number> {
    const row = this.#live(key);
    const next = addDelta(op, key, row ? this.#read(key, row) : 0, delta);
    this.#write(op, key, next, row ? row.expires : this.#expires(ttl));
    return Promise.resolve(next);
  }

  /** Closes the database when this cache opened it. */
  protected override _close(): Promise<void> {
    if (this.#owned) this.#database.close();
    return Promise.resolve();
  }
}

/** The options a `sqlite://` URL gives: {@linkcode SqliteCacheOptions} without the objects. */
export type SqliteUrlOptions = Pick<SqliteCacheOptions, "path" | "namespace" | "defaultTtl">;

/**
 * The `sqlite://` scheme for `cacheFromUrl`, registered by the application with
 * `registerCacheScheme(sqliteScheme)`: `sqlite:///abs/path/cache.db` (a file) or
 * `sqlite://` (in memory), with `?namespace=…&defaultTtl=…`. The URL's splitting, parameter
 * types and error messages are `cacheFromUrl`'s; this says only what is SQLite's.
 */
export const sqliteScheme: UrlScheme<"sqlite", SqliteUrlOptions> = {
  scheme: "sqlite",
  params: { namespace: "text", defaultTtl: "ms" },
  options(url) {
    url.noHost();
    const options: SqliteUrlOptions = {};
    if (url.path !== "" && url.path !== "/") options.path = url.path;
    if (url.params.namespace !== undefined) options.namespace = url.params.namespace as string;
    if (url.params.defaultTtl !== undefined) options.defaultTtl = url.params.defaultTtl as number;
    return options;
  },
  create: (options) => new SqliteCache(options),
};
