/**
 * {@linkcode MemcachedCache}: a cache on one or more memcached servers,
 * through `npm:memjs` (loaded on first use) plus a small text-protocol client
 * for multi-key reads.
 *
 * @module
 */
import { _describe, addDelta, CacheError, checkOptionNames, SerializationError } from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";
import { defaultSerializer } from "../serializers/default.ts";
import { ByteCache, type CounterOp } from "./_base.ts";
import {
  Channel,
  counterExtras,
  counterValue,
  expectStatus,
  type MemjsClient,
  OP,
  type Reply,
  STATUS,
  storeExtras,
} from "./memcached/binary.ts";
import { expiration, generationKey, mapKey, namespace, newGeneration } from "./memcached/keys.ts";
import { throwIfFailed } from "./memcached/batch.ts";
import { createClient, MEMJS } from "./memcached/client.ts";
import { checkOptions } from "./memcached/options.ts";
import { TextConnection } from "./memcached/text.ts";
import {
  decodeValue,
  type Encoded,
  encodeInteger,
  encodeValue,
  FLAG_GUARDED,
  FLAG_INTEGER,
  FLAG_SERIALIZED,
  fromCounter,
  isCounter,
  isStoredInteger,
  OFFSET,
} from "./memcached/values.ts";

export type { MemjsClient, MemjsResponse } from "./memcached/binary.ts";

/** Options of {@linkcode MemcachedCache}. */
export interface MemcachedCacheOptions {
  /** `"host:port"` or a list of them (keys spread by memjs's hashing). Default `"127.0.0.1:11211"`. */
  servers?: string | readonly string[] | undefined;
  /** A memjs client you already have (instead of `servers`); `close()` leaves it open. */
  client?: MemjsClient | undefined;
  /** Prepended to every key; `clear()` then drops only this prefix's entries. Default `""`. */
  keyPrefix?: string | undefined;
  /** Lifetime in ms of entries stored without a ttl; `0` = never. Default 300 000. */
  defaultTtl?: number | undefined;
  /**
   * Encodes values. The default ({@linkcode defaultSerializer}) leaves safe
   * integers and strings readable by other clients; a custom one (compression,
   * encryption) gets every value `set`, `add` and `setMany` store. Counters
   * made by `inc`/`dec` are always decimal (memcached must read them to count).
   */
  serializer?: Serializer | undefined;
  /** The longest wait in ms for any server answer before `CacheConnectionError`. Default 5000. */
  timeout?: number | undefined;
}

const EMPTY = new Uint8Array(0);
const NO_CREATE = 0xffffffff;
/** Attempts of every retry loop (a lost race, a changed generation) before a `CacheError`. */
const ATTEMPTS = 8;
const ACCEPTED = ["client", "defaultTtl", "keyPrefix", "serializer", "servers", "timeout"];
const ascii = new TextDecoder("latin1");
const asciiEncoder = new TextEncoder();

/**
 * A cache on memcached servers, like Python cachelib's `MemcachedCache` but
 * with every key working (long, spaced or unicode keys are hashed), exact
 * counters below zero, one round trip per server for `getMany`, and outages
 * reported as `CacheConnectionError` instead of misses.
 *
 * @example Share a cache between processes
 * ```ts ignore
 * import { MemcachedCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new MemcachedCache({
 *   servers: ["10.0.0.1:11211", "10.0.0.2:11211"],
 *   keyPrefix: "app:",
 * });
 * await cache.set("user:1", { name: "Ada" }, 60_000);
 * assert.deepEqual(await cache.getMany(["user:1", "user:2"]), [{ name: "Ada" }, undefined]);
 * assert.equal(await cache.dec("stock", 3), -3);
 * ```
 */
export class MemcachedCache extends ByteCache {
  /** The prefix of every key this cache writes. */
  readonly keyPrefix: string;
  /** The longest wait in ms for a server. */
  readonly timeout: number;
  #servers: string[];
  #channel: Channel | undefined;
  #ownsClient: boolean;
  #opening: Promise<Channel> | undefined;
  #texts: TextConnection[] = [];
  #generation: string | undefined;
  #custom: boolean;

  /**
   * Creates the cache; nothing connects until the first operation.
   *
   * @param options See {@linkcode MemcachedCacheOptions}.
   */
  constructor(options: MemcachedCacheOptions = {}) {
    checkOptionNames("MemcachedCache", options, ACCEPTED);
    super(options);
    this.#custom = this.serializer !== defaultSerializer;
    const { client, servers, keyPrefix, timeout } = checkOptions(options);
    this.#servers = servers;
    this.keyPrefix = keyPrefix;
    this.timeout = timeout;
    this.#channel = client && new Channel(client, timeout);
    this.#ownsClient = client === undefined;
  }

  /**
   * The channel over the memjs client, created (and memjs loaded) on first
   * use. Loading can take long (a first download from the npm registry), so
   * the wait ends at the call's deadline with a `CacheError`; the load goes on
   * for later calls.
   */
  #memjs(op: string, key: string | undefined, deadline: number): Channel | Promise<Channel> {
    if (this.#channel) return this.#channel;
    const opening = this.#opening ??= this.#open();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const what = key === undefined ? op : `${op} key ${_describe(key)}`;
        reject(
          new CacheError(
            `Cannot ${what}: the client library ${MEMJS} did not load within ${this.timeout} ms`,
          ),
        );
      }, Math.max(0, deadline - performance.now()));
    });
    return Promise.race([opening, late]).finally(() => clearTimeout(timer));
  }

  async #open(): Promise<Channel> {
    const client = await createClient(this.#servers, this.timeout);
    if (this._closed) {
      client.close();
      throw new CacheError("Cannot open memcached: the cache is closed");
    }
    return this.#channel = new Channel(client, this.timeout);
  }

  /** The `performance.now()` by which a call made now must settle. */
  #deadline(): number {
    return performance.now() + this.timeout;
  }

  /** The text-protocol connection to server `index` of the memjs client. */
  #text(client: MemjsClient, index: number, op: string): TextConnection {
    this._checkOpen(op); // closed while waiting: open no text connection
    const server = client.servers[index]!;
    return this.#texts[index] ??= new TextConnection(server.host, server.port, this.timeout);
  }

  #send(
    op: string,
    key: string | undefined,
    mkey: string,
    opcode: number,
    extras: Uint8Array,
    value: Uint8Array,
    deadline: number,
  ): Promise<Reply> {
    const channel = this.#channel;
    if (channel) return channel.send(op, key, mkey, opcode, extras, value, deadline);
    return (this.#memjs(op, key, deadline) as Promise<Channel>).then((opened) =>
      opened.send(op, key, mkey, opcode, extras, value, deadline)
    );
  }

  /**
   * Runs `body` in this cache's namespace. With a key prefix, the namespace
   * holds the prefix's generation (bumped by `clear()`); the last one seen is
   * used at once while the current one is read alongside, and `body` runs
   * again when they differ (a write to an old generation is never visible).
   */
  async #inNamespace<T>(
    op: string,
    deadline: number,
    body: (ns: string) => Promise<T>,
  ): Promise<T> {
    if (this.keyPrefix === "") return body("");
    if (this.#generation === undefined) {
      this.#generation = await this.#readGeneration(op, deadline);
      return body(namespace(this.keyPrefix, this.#generation));
    }
    let seen: string = this.#generation;
    for (let attempt = 1;; attempt++) {
      const [current, result]: [PromiseSettledResult<string>, PromiseSettledResult<T>] =
        await Promise.allSettled([
          this.#readGeneration(op, deadline),
          body(namespace(this.keyPrefix, seen)),
        ]);
      if (current.status === "rejected") throw current.reason;
      if (current.value === seen) {
        if (result.status === "rejected") throw result.reason;
        return result.value;
      }
      seen = this.#generation = current.value;
      if (attempt === ATTEMPTS) {
        throw new CacheError(
          `Cannot ${op}: the generation of key prefix ${
            _describe(this.keyPrefix)
          } changed during each of ${ATTEMPTS} attempts (clear() called in a loop?)`,
        );
      }
    }
  }

  /**
   * The prefix's current generation, created when missing. Bounded: a server
   * that refuses to store it (memory full with `-M`) is a `CacheError`.
   */
  async #readGeneration(op: string, deadline: number): Promise<string> {
    const key = generationKey(this.keyPrefix);
    for (let attempt = 1;; attempt++) {
      const found = await this.#send(op, undefined, key, OP.get, EMPTY, EMPTY, deadline);
      if (found.status === STATUS.ok) return ascii.decode(found.value);
      expectStatus(found, `${op} (reading the generation of the key prefix)`, undefined, [
        STATUS.notFound,
      ]);
      const fresh = newGeneration();
      const added = await this.#send(
        op,
        undefined,
        key,
        OP.add,
        storeExtras(FLAG_INTEGER, 0),
        asciiEncoder.encode(fresh),
        deadline,
      );
      if (added.status === STATUS.ok) return fresh;
      // Another client added it first (read it again); anything else is a failure.
      expectStatus(added, `${op} (creating the generation of the key prefix)`, undefined, [
        STATUS.exists,
        STATUS.notStored,
      ]);
      if (attempt === ATTEMPTS) {
        throw new CacheError(
          `Cannot ${op}: the generation of key prefix ${
            _describe(this.keyPrefix)
          } was neither readable nor creatable in ${ATTEMPTS} attempts`,
        );
      }
    }
  }

  #decode(key: string, flags: number, bytes: Uint8Array): unknown {
    return decodeValue(key, flags, bytes, (data) => this._decode(key, data));
  }

  #encode(op: string, key: string, value: unknown): Encoded {
    return encodeValue(value, (data) => this._encode(op, key, data), this.#custom);
  }

  /** Reads one key. */
  protected _get(key: string): Promise<unknown> {
    const deadline = this.#deadline();
    if (this.keyPrefix === "") return this.#getIn("", key, deadline);
    return this.#inNamespace("get", deadline, (ns) => this.#getIn(ns, key, deadline));
  }

  async #getIn(ns: string, key: string, deadline: number): Promise<unknown> {
    const reply = await this.#send("get", key, mapKey(ns, key), OP.get, EMPTY, EMPTY, deadline);
    if (reply.status === STATUS.notFound) return undefined;
    expectStatus(reply, "get", key, [STATUS.ok]);
    return this.#decode(key, reply.flags, reply.value);
  }

  /** Reads many keys: one text-protocol `get` per server, all servers at once. */
  protected override _getMany(keys: readonly string[]): Promise<unknown[]> {
    const deadline = this.#deadline();
    return this.#inNamespace("getMany", deadline, async (ns) => {
      const { client } = await this.#memjs("getMany", undefined, deadline);
      const mkeys = keys.map((key) => mapKey(ns, key));
      const values = new Array<unknown>(keys.length).fill(undefined);
      const read = async (index: number, positions: number[] | undefined) => {
        const asked = positions ? positions.map((p) => mkeys[p]!) : mkeys;
        const items = await this.#text(client, index, "getMany").getMany(
          "getMany",
          asked,
          deadline,
        );
        items.forEach((item, i) => {
          const p = positions ? positions[i]! : i;
          if (item) values[p] = this.#decode(keys[p]!, item.flags, item.value);
        });
      };
      if (client.servers.length === 1) {
        await read(0, undefined);
        return values;
      }
      const byServer = new Map<number, number[]>();
      mkeys.forEach((mkey, p) => {
        const index = client.getServer(mkey);
        const positions = byServer.get(index);
        if (positions) positions.push(p);
        else byServer.set(index, [p]);
      });
      await Promise.all([...byServer].map(([index, positions]) => read(index, positions)));
      return values;
    });
  }

  /**
   * Stores one encoded value. `false` when memcached will not take it: over
   * the item size limit, or out of memory (`-M`), as for `add` over a live key.
   */
  #store(
    op: "set" | "add" | "setMany",
    key: string,
    encoded: Encoded,
    ttl: number,
    deadline: number,
  ): Promise<boolean> {
    const extras = storeExtras(encoded.flags, expiration(ttl));
    return this.#inNamespace(op, deadline, async (ns) => {
      const opcode = op === "add" ? OP.add : OP.set;
      const mkey = mapKey(ns, key);
      const reply = await this.#send(op, key, mkey, opcode, extras, encoded.bytes, deadline);
      expectStatus(reply, op, key, [
        STATUS.ok,
        STATUS.exists,
        STATUS.notStored,
        STATUS.tooLarge,
        STATUS.outOfMemory,
      ]);
      return reply.status === STATUS.ok;
    });
  }

  /** Stores one entry; `false` when the value is over the item size limit or memory is full. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#store("set", key, this.#encode("set", key, value), ttl, this.#deadline());
  }

  /** Stores one entry with memcached's atomic `add`. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#store("add", key, this.#encode("add", key, value), ttl, this.#deadline());
  }

  /**
   * Stores every entry, all requests at once. Every value is encoded first, so
   * a value that cannot be serialized stores nothing. A failure after some keys
   * were stored is a {@linkcode CacheBatchError} whose `stored` lists them (when
   * none was stored, the first failure itself).
   */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const deadline = this.#deadline();
    const encoded = entries.map(([key, value]) => this.#encode("setMany", key, value));
    const results = await Promise.allSettled(
      entries.map(([key], i) => this.#store("setMany", key, encoded[i]!, ttl, deadline)),
    );
    const stored = entries.filter((_, i) => {
      const result = results[i]!;
      return result.status === "fulfilled" && result.value;
    }).map(([key]) => key);
    throwIfFailed("setMany", "keys", results, entries.map(([key]) => key), "stored", stored);
    return stored;
  }

  /** Removes one key. */
  protected _delete(key: string): Promise<boolean> {
    return this.#deleteOne("delete", key, this.#deadline());
  }

  #deleteOne(op: string, key: string, deadline: number): Promise<boolean> {
    return this.#inNamespace(op, deadline, async (ns) => {
      const mkey = mapKey(ns, key);
      const reply = await this.#send(op, key, mkey, OP.delete, EMPTY, EMPTY, deadline);
      expectStatus(reply, op, key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok;
    });
  }

  /**
   * Removes every key, all requests at once. A failure after some keys were
   * deleted is a {@linkcode CacheBatchError} whose `deleted` lists them.
   */
  protected override async _deleteMany(keys: readonly string[]): Promise<string[]> {
    const deadline = this.#deadline();
    const distinct = [...new Set(keys)];
    const results = await Promise.allSettled(
      distinct.map((key) => this.#deleteOne("deleteMany", key, deadline)),
    );
    const deleted = distinct.filter((_, i) => {
      const result = results[i]!;
      return result.status === "fulfilled" && result.value;
    });
    throwIfFailed("deleteMany", "keys", results, distinct, "deleted", deleted);
    return deleted;
  }

  /** Whether the key holds a live entry. */
  protected _has(key: string): Promise<boolean> {
    const deadline = this.#deadline();
    return this.#inNamespace("has", deadline, async (ns) => {
      const mkey = mapKey(ns, key);
      const reply = await this.#send("has", key, mkey, OP.get, EMPTY, EMPTY, deadline);
      expectStatus(reply, "has", key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok;
    });
  }

  /**
   * Adds `delta` with memcached's atomic `incr`/`decr` on the offset integer,
   * creating a missing key with the ttl in the same request. Two races are
   * retried (bounded): another client's `add` created the key between the
   * server's miss and its own add (status "not stored"), and a custom
   * serializer's integer that is first turned into a counter (CAS).
   */
  protected _addToCounter(key: string, delta: number, ttl: number, op: CounterOp): Promise<number> {
    const deadline = this.#deadline();
    const opcode = delta < 0 ? OP.decrement : OP.increment;
    const amount = BigInt(Math.abs(delta));
    const extras = counterExtras(amount, OFFSET + BigInt(delta), expiration(ttl));
    return this.#inNamespace(op, deadline, async (ns) => {
      const mkey = mapKey(ns, key);
      for (let attempt = 1;; attempt++) {
        const reply = await this.#send(op, key, mkey, opcode, extras, EMPTY, deadline);
        if (reply.status === STATUS.ok) {
          return await this.#counted(op, key, mkey, delta, counterValue(reply), deadline);
        }
        if (reply.status === STATUS.nonNumeric) {
          await this.#toCounter(op, key, mkey, delta, deadline);
        } else {
          expectStatus(reply, op, key, [STATUS.ok, STATUS.notStored]);
        }
        if (attempt === ATTEMPTS) {
          throw new CacheError(
            `Cannot ${op} key ${
              _describe(key)
            }: the key changed under each of ${ATTEMPTS} attempts`,
          );
        }
      }
    });
  }

  /** The new value of a counter, or the `incr` undone and an error when it is out of range. */
  async #counted(
    op: "inc" | "dec",
    key: string,
    mkey: string,
    delta: number,
    stored: bigint,
    deadline: number,
  ): Promise<number> {
    const next = fromCounter(stored);
    if (Number.isSafeInteger(next)) return next;
    const undo = delta < 0 ? OP.increment : OP.decrement;
    const amount = BigInt(Math.abs(delta));
    await this.#send(op, key, mkey, undo, counterExtras(amount, 0n, NO_CREATE), EMPTY, deadline);
    const before = stored - BigInt(delta);
    if (!isCounter(before)) {
      throw new SerializationError(
        `Cannot ${op} key ${_describe(key)}: the item was not written by MemcachedCache ` +
          `(a decimal outside its counter range; memcached's incr was undone)`,
      );
    }
    return addDelta(op, key, fromCounter(before), delta);
  }

  /**
   * `incr` found no number. An integer a custom serializer wrote is replaced by
   * the same integer as a decimal counter, keeping its remaining ttl, with a
   * CAS (so a concurrent write wins and the caller's loop retries). Anything
   * else is the contract's `TypeError`.
   */
  async #toCounter(
    op: "inc" | "dec",
    key: string,
    mkey: string,
    delta: number,
    deadline: number,
  ): Promise<void> {
    const { client } = await this.#memjs(op, key, deadline);
    const index = client.servers.length > 1 ? client.getServer(mkey) : 0;
    const text = this.#text(client, index, op);
    const item = await text.metaGet(op, mkey, deadline);
    if (item === undefined) return; // deleted meanwhile: the next incr creates it
    const current = this.#decode(key, item.flags, item.value);
    if ((item.flags & ~FLAG_GUARDED) === FLAG_SERIALIZED && isStoredInteger(current)) {
      const exp = item.ttl < 0 ? 0 : expiration(Math.max(1, item.ttl) * 1000);
      await text.metaSetIfCas(
        op,
        mkey,
        encodeInteger(current),
        FLAG_INTEGER,
        exp,
        item.cas,
        deadline,
      );
      return;
    }
    addDelta(op, key, current, delta);
    throw new TypeError(
      `Cannot ${op} key ${_describe(key)}: stored value is not a safe integer, found ${
        _describe(current)
      } (kept as serialized bytes)`,
    );
  }

  /**
   * Without a key prefix: `flush_all` on every server. With one: a new
   * generation for the prefix, so its old entries are never read again
   * (memcached cannot list keys; they age out by ttl or LRU). When a server
   * fails, the others are still flushed and a {@linkcode CacheBatchError}
   * lists them in `flushed`.
   */
  protected async _clear(): Promise<boolean> {
    const deadline = this.#deadline();
    const { client } = await this.#memjs("clear", undefined, deadline);
    this._checkOpen("clear");
    if (this.keyPrefix === "") {
      const results = await Promise.allSettled(
        client.servers.map((_, i) => this.#text(client, i, "clear").flushAll("clear", deadline)),
      );
      const names = client.servers.map((s) => `${s.host}:${s.port}`);
      const flushed = names.filter((_, i) => results[i]!.status === "fulfilled");
      throwIfFailed("clear", "servers", results, names, "flushed", flushed);
      return true;
    }
    const fresh = newGeneration();
    const reply = await this.#send(
      "clear",
      undefined,
      generationKey(this.keyPrefix),
      OP.set,
      storeExtras(FLAG_INTEGER, 0),
      asciiEncoder.encode(fresh),
      deadline,
    );
    expectStatus(reply, "clear", undefined, [STATUS.ok]);
    this.#generation = fresh;
    return true;
  }

  /**
   * Closes what this cache opened (a given memjs client stays open): text
   * connections, queued commands (they reject as closed), and memjs's sockets,
   * destroyed rather than ended, so a silent server cannot keep the process alive.
   */
  protected override async _close(): Promise<void> {
    for (const text of this.#texts) text?.shutdown();
    const channel = this.#channel ?? await this.#opening?.catch(() => undefined);
    channel?.close();
    if (this.#ownsClient && channel) {
      channel.client.close();
      for (const server of channel.client.servers) server._socket?.destroy();
    }
  }
}
