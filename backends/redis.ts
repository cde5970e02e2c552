/**
 * {@linkcode RedisCache}: the {@linkcode Cache} interface over Redis, through
 * node-redis (`npm:redis`, loaded on first connect).
 *
 * @module
 */
import { _describe, addDelta, CacheError, SerializationError } from "../cache.ts";
import { defaultSerializer } from "../serializers/default.ts";
import { _identityOf, _judgeStored, ByteCache } from "./_base.ts";
import {
  escapeGlob,
  fromWtf8,
  integerOf,
  isTagged,
  plainText,
  plainValue,
  type RedisKey,
  serverKey,
  tagged,
  wtf8,
} from "./redis/_codec.ts";
import { type RedisArgument, RedisConnection, replyCode } from "./redis/_connection.ts";
import { ClusterConnection } from "./redis/_cluster.ts";
import { INC_SCRIPT, INC_SHA, TYPES_SCRIPT, TYPES_SHA } from "./redis/_scripts.ts";

import { checkRedisOptions, type RedisCacheOptions } from "./redis/_options.ts";
import { DELETE_IF_EQUALS_SCRIPT, DELETE_IF_EQUALS_SHA } from "./redis/_scripts.ts";
import { REPLACE_IF_EQUALS_SCRIPT, REPLACE_IF_EQUALS_SHA } from "./redis/_scripts.ts";

export type { RedisClientLike, RedisSentinelLike } from "./redis/_connection.ts";
export type { RedisClusterLike } from "./redis/_cluster.ts";
export {
  DEFAULT_REDIS_URL,
  type RedisCacheOptions,
  type RedisTopologyUrlOptions,
} from "./redis/_options.ts";

type Reply = Uint8Array | null;
const SCAN_COUNT = "1000";
/** How often `inc` retries replacing a serialized number that changed under it. */
const INC_ATTEMPTS = 8;

/**
 * A cache in Redis. Atomic where Redis is (`add` is one `SET NX PX`, `inc` one
 * script), one round trip per batch (`getMany` is one `MGET`, `setMany` and
 * `deleteMany` one pipeline), and never hangs: when the server is away, every
 * call rejects with {@linkcode CacheConnectionError} within `timeout`, and the
 * same instance works again once the server is back.
 *
 * With the default serializer, safe integers are stored as decimal text (so
 * `INCRBY` and other programs see numbers), strings as their UTF-8 bytes,
 * everything else as a tag byte plus the serializer's bytes. With a custom
 * `serializer` (compression, encryption) every value `set`, `add` and
 * `setMany` store goes through it; only counters made by `inc`/`dec` are
 * decimal text. A key of another Redis type (a list, a hash) is a foreign
 * entry: `get`/`getMany`/`inc` reject with `SerializationError`, `has` is
 * `true`, `add` is `false`, `set` replaces it. Without a `keyPrefix`, `clear()` is `FLUSHDB`: it
 * empties the whole selected database, as Python cachelib's does.
 *
 * @example Share a cache between processes
 * ```ts ignore
 * import { RedisCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new RedisCache({ url: "redis://127.0.0.1:6379", keyPrefix: "app:" });
 * await cache.set("user:1", { name: "Ada" }, 60_000);
 * assert.deepEqual(await cache.get("user:1"), { name: "Ada" });
 * assert.equal(await cache.inc("visits"), 1);
 * ```
 *
 * @example Use a node-redis client you already have
 * ```ts ignore
 * import { createClient } from "npm:redis@6.3.1";
 * import { RedisCache } from "@cachelib/cachelib";
 *
 * const client = createClient({ url: "redis://cache.internal:6379/2" });
 * const cache = new RedisCache({ client, keyPrefix: "pages:", timeout: 1000 });
 * await cache.set("/", "<html>…</html>");
 * await cache.close(); // the client stays open
 * await client.close();
 * ```
 *
 * @example On a Redis Cluster; hash tags keep related keys in one slot
 * ```ts ignore
 * import { RedisCache } from "@cachelib/cachelib";
 *
 * await using cache = new RedisCache({
 *   cluster: { rootNodes: [{ url: "redis://10.0.0.1:7000" }, { url: "redis://10.0.0.2:7000" }] },
 * });
 * // any keys, any slots: the batch is split by slot, no CROSSSLOT
 * await cache.setMany({ "{user:1}:profile": { name: "Ada" }, "{user:1}:cart": [], "other": 1 });
 * await cache.getMany(["{user:1}:profile", "{user:1}:cart", "other"]);
 * await cache.clear(); // every master, or fails
 * ```
 *
 * @example Behind Redis Sentinel: always the master the sentinels name now
 * ```ts ignore
 * import { RedisCache } from "@cachelib/cachelib";
 *
 * await using cache = new RedisCache({
 *   sentinel: { name: "mymaster", sentinelRootNodes: [{ host: "10.0.0.5", port: 26379 }] },
 *   timeout: 1000, // a call during a failover rejects with CacheConnectionError after 1 s
 * });
 * ```
 */
export class RedisCache extends ByteCache {
  /** Prepended to every key. */
  readonly keyPrefix: string;
  /** The connection of a single server or a sentinel-managed master (not a cluster). */
  readonly #conn: RedisConnection | undefined;
  /** The connection of a cluster. */
  readonly #cluster: ClusterConnection | undefined;
  readonly #prefixWellFormed: boolean;
  /** Whether the default serializer's plain layout applies (integers and strings raw). */
  readonly #plain: boolean;

  /**
   * Creates a cache; nothing connects until the first call.
   *
   * @param options See {@linkcode RedisCacheOptions}.
   */
  constructor(options: RedisCacheOptions = {}) {
    super(options);
    const { url, client, cluster, sentinel, keyPrefix, timeout } = checkRedisOptions(options);
    this.keyPrefix = keyPrefix;
    this.#prefixWellFormed = keyPrefix.isWellFormed();
    this.#plain = this.serializer === defaultSerializer;
    this.#cluster = cluster ? new ClusterConnection(cluster) : undefined;
    this.#conn = cluster ? undefined : new RedisConnection({ url, client, sentinel, timeout });
    // A cluster or sentinel set is named by the options object or client given (process-unique):
    // two caches over one topology from separate options are not recognised as one store.
    const where = cluster ?? sentinel;
    this.#store = `redis:${
      where !== undefined
        ? _identityOf(where)
        : client === undefined
        ? serverOf(url)
        : _identityOf(client)
    }|${keyPrefix}`;
  }

  readonly #store: string;

  /** The server and database (without credentials) and the key prefix. */
  protected override _storeId(): string {
    return this.#store;
  }

  /** The bound in ms on connecting and on each command. */
  get timeout(): number {
    return (this.#conn ?? this.#cluster)!.timeout;
  }

  /**
   * Sends one command; see {@linkcode RedisConnection.call}. On a cluster it
   * goes to the master of `args[1]`'s slot (the key of every single-key
   * command and script here), and a read (`readonly`) may be retried once
   * after a transient cluster state.
   */
  #call<R, T>(
    op: string,
    key: string | undefined,
    args: RedisArgument[],
    done: (reply: R) => T,
    deadline?: number,
    readonly = false,
  ): Promise<T> {
    if (this.#cluster) {
      const first = args[0] === "EVALSHA" || args[0] === "EVAL" ? args[3] : args[1];
      return this.#cluster.call(op, key, first, args, done, readonly, deadline);
    }
    return this.#conn!.call(op, key, args, done, deadline);
  }

  /** Independent single-key commands in one go (per node on a cluster). */
  #pipeline(op: string, keys: string[], commands: RedisArgument[][]): Promise<unknown[]> {
    if (this.#cluster) {
      return this.#cluster.pipeline(op, keys, commands.map((args) => args[1]!), commands);
    }
    return this.#conn!.pipeline(op, keys, commands);
  }

  #key(key: string): RedisKey {
    return serverKey(this.keyPrefix, this.#prefixWellFormed, key);
  }

  /** The stored form of `value`; a promise only when the serializer answers with one. */
  #value(op: string, key: string, value: unknown): RedisArgument | Promise<RedisArgument> {
    const text = this.#plain ? plainText(value) : undefined;
    if (text !== undefined) return text;
    const bytes = this._encode(op, key, value);
    return bytes instanceof Promise ? bytes.then(tagged) : tagged(bytes);
  }

  #read(key: string, reply: Reply): unknown {
    if (reply === null) return undefined;
    if (!isTagged(reply)) {
      if (this.#plain) return plainValue(reply);
      // with a custom serializer only counters are stored untagged
      const counter = integerOf(reply);
      if (counter !== undefined) return counter;
      throw new SerializationError(
        `Cannot read key ${_describe(key)}: the stored value was not written through this ` +
          "cache's serializer (untagged and not a counter)",
      );
    }
    // a plain view: node-redis hands out Buffers, whose slice() does not copy
    return this._decode(key, new Uint8Array(reply.buffer, reply.byteOffset + 1, reply.length - 1));
  }

  /** `["PX", ms]` for a ttl (rounded up), nothing for `0` or beyond 2^53 ms. */
  #expiry(ttl: number): string[] {
    return ttl === 0 || ttl > Number.MAX_SAFE_INTEGER ? [] : ["PX", String(Math.ceil(ttl))];
  }

  /** `GET`. */
  protected _get(key: string): Promise<unknown> {
    return this.#call(
      "get",
      key,
      ["GET", this.#key(key)],
      (reply: Reply) => this.#read(key, reply),
      undefined,
      true,
    );
  }

  /**
   * One `MGET`, duplicates included. `MGET` answers nil for a key of another
   * type too, so when some keys are nil one script asks their types, and a
   * foreign one rejects as `get` does (the same deadline covers both).
   */
  protected override async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const deadline = performance.now() + this.timeout;
    const args: RedisArgument[] = ["MGET"];
    for (const key of keys) args.push(this.#key(key));
    const replies = this.#cluster
      ? await this.#cluster.mget("getMany", args.slice(1)) as Reply[]
      : await this.#call("getMany", undefined, args, (values: Reply[]) => values);
    const missing = keys.filter((_, i) => replies[i] === null);
    if (missing.length > 0) await this.#refuseForeign(missing, deadline);
    // a plain array (node-redis's reply array is not one)
    const values = new Array<unknown>(replies.length);
    let pending = false;
    for (let i = 0; i < replies.length; i++) {
      const value = values[i] = this.#read(keys[i]!, replies[i]!);
      if (value instanceof Promise) pending = true;
    }
    return pending ? await Promise.all(values) : values;
  }

  /** Rejects with `SerializationError` when one of `keys` holds another Redis type. */
  async #refuseForeign(keys: string[], deadline: number): Promise<void> {
    const distinct = [...new Set(keys)];
    // on a cluster the keys lie in many slots: one TYPE per key, routed per key
    const types = this.#cluster
      ? await this.#pipeline("getMany", distinct, distinct.map((key) => ["TYPE", this.#key(key)]))
      : await this.#script("getMany", undefined, TYPES_SHA, TYPES_SCRIPT, [
        String(distinct.length),
        ...distinct.map((key) => this.#key(key)),
      ], deadline);
    const index = (types as unknown[]).findIndex((type) => {
      const name = String(type);
      return name !== "none" && name !== "string";
    });
    if (index === -1) return;
    throw new SerializationError(
      `Cannot getMany key ${_describe(distinct[index])}: redis holds a ${
        String((types as unknown[])[index])
      } there, not a string (the key holds another redis type)`,
    );
  }

  /** Runs a script by its SHA, sending its text after a `NOSCRIPT`. */
  async #script(
    op: string,
    key: string | undefined,
    sha: string,
    script: string,
    args: RedisArgument[],
    deadline?: number,
  ): Promise<unknown> {
    const run = (head: string[]) =>
      this.#call(op, key, [...head, ...args], (reply: unknown) => reply, deadline);
    try {
      return await run(["EVALSHA", sha]);
    } catch (error) {
      if (replyCode(error) !== "NOSCRIPT") throw error;
      return await run(["EVAL", script]);
    }
  }

  /** `SET key value PX ttl`. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    const stored = this.#value("set", key, value);
    if (stored instanceof Promise) {
      return stored.then((bytes) => this.#call("set", key, this.#setArgs(key, bytes, ttl), isOk));
    }
    return this.#call("set", key, this.#setArgs(key, stored, ttl), isOk);
  }

  #setArgs(key: string, stored: RedisArgument, ttl: number): RedisArgument[] {
    return ["SET", this.#key(key), stored, ...this.#expiry(ttl)];
  }

  /** One atomic `SET key value NX PX ttl`. */
  protected async _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    let stored = this.#value("add", key, value);
    if (stored instanceof Promise) stored = await stored;
    const args = ["SET", this.#key(key), stored, "NX", ...this.#expiry(ttl)];
    return await this.#call("add", key, args, isOk);
  }

  /**
   * `add` over an entry no read returns (a stale getOrSet envelope, an invalidated tagged
   * entry): `GET`, judge, then one script that replaces it only while the key still holds those
   * very bytes, so of concurrent `add`s over one such entry exactly one stores. A key that
   * emptied meanwhile gets `SET NX` again; a foreign type or undecodable bytes stay taken.
   */
  protected override async _addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): Promise<boolean> {
    const deadline = performance.now() + this.timeout;
    let raw: Reply;
    try {
      raw = await this.#call("add", key, ["GET", this.#key(key)], (r: Reply) => r, deadline, true);
    } catch (error) {
      if (replyCode(error) === "WRONGTYPE") return false;
      throw error;
    }
    if (raw === null) return ifAbsent && await this._add(key, value, ttl);
    // Only a value written through the serializer can be a getOrSet or a tagged entry.
    if (!isTagged(raw)) return false;
    if (!(await _judgeStored(() => this.#read(key, raw), dead))) return false;
    let stored = this.#value("add", key, value);
    if (stored instanceof Promise) stored = await stored;
    const [, ms] = this.#expiry(ttl);
    const args = [
      "1",
      this.#key(key),
      raw as RedisArgument,
      stored,
      ms ?? "0",
      ifAbsent ? "1" : "0",
    ];
    const sha = REPLACE_IF_EQUALS_SHA;
    return await this.#script("add", key, sha, REPLACE_IF_EQUALS_SCRIPT, args, deadline) === 1;
  }

  /** One pipeline of `SET … PX`; every value is encoded before anything is sent. */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const expiry = this.#expiry(ttl);
    let stored = entries.map(([key, value]) => this.#value("setMany", key, value));
    if (stored.some((value) => value instanceof Promise)) stored = await Promise.all(stored);
    const commands = entries.map(([key], i) => [
      "SET",
      this.#key(key),
      stored[i] as RedisArgument,
      ...expiry,
    ]);
    const keys = entries.map(([key]) => key);
    const replies = await this.#pipeline("setMany", keys, commands);
    return keys.filter((_, i) => replies[i] !== null);
  }

  /** `UNLINK`. */
  protected _delete(key: string): Promise<boolean> {
    return this.#call("delete", key, ["UNLINK", this.#key(key)], (n: number) => n === 1);
  }

  /** One pipeline of `UNLINK`, one per distinct key, so each key's result is known. */
  protected override async _deleteMany(keys: readonly string[]): Promise<string[]> {
    const distinct = [...new Set(keys)];
    const commands = distinct.map((key) => ["UNLINK", this.#key(key)]);
    const replies = await this.#pipeline("deleteMany", distinct, commands);
    return distinct.filter((_, i) => replies[i] === 1);
  }

  /** `EXISTS`. */
  protected _has(key: string): Promise<boolean> {
    return this.#call(
      "has",
      key,
      ["EXISTS", this.#key(key)],
      (n: number) => n === 1,
      undefined,
      true,
    );
  }

  /**
   * `SCAN MATCH prefix*` + `UNLINK` per page; without a prefix, `FLUSHDB ASYNC`.
   * On a cluster, on every master (failing if any master fails).
   */
  protected async _clear(): Promise<boolean> {
    const pattern = escapeGlob(this.keyPrefix) + "*";
    const match = this.#prefixWellFormed ? pattern : wtf8(pattern);
    if (this.#cluster) {
      await this.#cluster.clear(this.keyPrefix === "" ? undefined : match as string);
      return true;
    }
    if (this.keyPrefix === "") {
      return await this.#call("clear", undefined, ["FLUSHDB", "ASYNC"], () => true);
    }
    let cursor = "0";
    do {
      const [next, keys] = await this.#call(
        "clear",
        undefined,
        ["SCAN", cursor, "MATCH", match, "COUNT", SCAN_COUNT],
        (reply: [Uint8Array, Uint8Array[]]) => reply,
      );
      cursor = String(next);
      if (keys.length > 0) {
        await this.#call("clear", undefined, ["UNLINK", ...(keys as RedisArgument[])], () => 0);
      }
    } while (cursor !== "0");
    return true;
  }

  /**
   * One script: `INCRBY` when the stored value is a counter (decimal text),
   * else create or refuse. A number stored through the serializer (`-0`, or
   * any number with a custom serializer) is decoded here and replaced by the
   * counter `number + delta`, by a compare-and-set in the same script, retried
   * a few times if another client changed it in between.
   */
  protected async _addToCounter(
    key: string,
    delta: number,
    ttl: number,
    op: "inc" | "dec",
  ): Promise<number> {
    const deadline = performance.now() + this.timeout;
    const [expiry] = this.#expiry(ttl).slice(1);
    const args: RedisArgument[] = ["1", this.#key(key), String(delta), expiry ?? "0"];
    let swap: RedisArgument[] = [];
    for (let attempt = 1;; attempt++) {
      const [code, result] = await this.#script(
        op,
        key,
        INC_SHA,
        INC_SCRIPT,
        [...args, ...swap],
        deadline,
      ) as [number, Uint8Array];
      if (code === 0) return integerOf(result)!;
      let current: unknown = code === 2 ? integerOf(result) : result;
      if (code === 1) {
        try {
          current = this.#read(key, result);
          if (current instanceof Promise) current = await current;
        } catch {
          // undecodable bytes: describe them as bytes
        }
      }
      const next = addDelta(op, key, current, delta);
      if (attempt === INC_ATTEMPTS) {
        throw new CacheError(
          `Cannot ${op} key ${_describe(key)}: the stored number changed under ${attempt} attempts`,
        );
      }
      swap = [result as RedisArgument, String(next)];
    }
  }

  /**
   * The distributed lock's atomic release (`backends/_lock.ts` looks this hook up): deletes
   * `key` only while it holds `value`, in one script; resolves whether it deleted.
   */
  async [Symbol.for("cachelib.deleteIfEquals")](key: string, value: unknown): Promise<boolean> {
    this._checkOpen("delete", key);
    const args = ["1", this.#key(key), await this.#value("delete", key, value)];
    const sha = DELETE_IF_EQUALS_SHA;
    return await this.#script("delete", key, sha, DELETE_IF_EQUALS_SCRIPT, args) === 1;
  }

  /** Closes the client this cache opened; a client given as `client` stays open. */
  protected override async _close(): Promise<void> {
    await (this.#conn ?? this.#cluster)!.close();
  }

  // TTL operations (issue 16).

  /** `PTTL`: -2 is a miss, -1 no expiry (`0`); a live key reports at least 1 ms. */
  protected override _ttl(key: string): Promise<number | undefined> {
    return this.#call("ttl", key, ["PTTL", this.#key(key)], (ms: number) => {
      const left = Number(ms);
      return left === -2 ? undefined : left === -1 ? 0 : Math.max(1, left);
    });
  }

  /**
   * `PEXPIRE key ms` (`1` when the key exists). For `0` (never), `PERSIST`, which answers `0`
   * both for a missing key and for one without an expiry, so then `EXISTS` tells them apart.
   */
  protected override async _touch(key: string, ttl: number): Promise<boolean> {
    const deadline = performance.now() + this.timeout;
    const [, ms] = this.#expiry(ttl);
    const server = this.#key(key);
    if (ms !== undefined) {
      return await this.#call("touch", key, ["PEXPIRE", server, ms], (n: number) => n === 1);
    }
    if (await this.#call("touch", key, ["PERSIST", server], (n: number) => n === 1, deadline)) {
      return true;
    }
    return await this.#call("touch", key, ["EXISTS", server], (n: number) => n === 1, deadline);
  }

  /**
   * `SCAN MATCH <keyPrefix><prefix>*` (glob characters escaped, so a prefix holding `*?[]\`
   * matches only itself), one page per step, each bounded by `timeout`; the key prefix is
   * stripped from what it finds. A key under the prefix that no string maps to (bytes another
   * program wrote) is skipped. On a cluster, every master in turn
   * ({@linkcode ClusterConnection.scan}); a master that fails rejects the step, naming it.
   */
  protected override async *_keys(prefix: string): AsyncGenerator<string> {
    const pattern = escapeGlob(this.keyPrefix + prefix) + "*";
    const match = pattern.isWellFormed() ? pattern : wtf8(pattern);
    const skip = wtf8(this.keyPrefix).length;
    const found = function* (keys: readonly unknown[]) {
      for (const bytes of keys as Uint8Array[]) {
        const key = fromWtf8(bytes.subarray(skip));
        // SCAN may return a key twice (rehashing): callers get it as Redis gives it
        if (key !== undefined && key.startsWith(prefix)) yield key;
      }
    };
    if (this.#cluster) {
      for await (const page of this.#cluster.scan("keys", match, Number(SCAN_COUNT))) {
        yield* found(page);
      }
      return;
    }
    let cursor = "0";
    do {
      const [next, keys] = await this.#call(
        "keys",
        undefined,
        ["SCAN", cursor, "MATCH", match, "COUNT", SCAN_COUNT],
        (reply: [Uint8Array, Uint8Array[]]) => reply,
      );
      cursor = String(next);
      yield* found(keys);
    } while (cursor !== "0");
  }
}

/** `host:port/db` of a Redis URL: the same store whoever logs in. */
function serverOf(url: string | undefined): string {
  if (url === undefined) return "default";
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "6379"}/${parsed.pathname.slice(1) || "0"}`;
  } catch {
    return "unparsed";
  }
}

/** Whether a `SET` stored its value (`nil` when `NX` declined). */
function isOk(reply: unknown): boolean {
  return reply !== null;
}
