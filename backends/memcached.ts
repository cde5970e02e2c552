/**
 * {@linkcode MemcachedCache}: a cache on one or more memcached servers,
 * through `npm:memjs` (loaded on first use) plus a small text-protocol client
 * for multi-key reads.
 *
 * @module
 */
import {
  _describe,
  _opAndKey,
  addDelta,
  CacheBatchError,
  CacheConnectionError,
  CacheError,
  checkOptionNames,
} from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";
import { defaultSerializer } from "../serializers/default.ts";
import { _judgeStored, ByteCache, type CounterOp } from "./_base.ts";
import {
  Channel,
  counterExtras,
  counterValue,
  expectStatus,
  type MemjsClient,
  OP,
  STATUS,
  storeExtras,
} from "./memcached/_binary.ts";
import {
  expiration,
  generationKey,
  mapKey,
  MAX_TEXT_EXPIRATION,
  namespace,
  newGeneration,
} from "./memcached/_keys.ts";
import { throwIfFailed } from "./_toolkit/batch.ts";
import { withDeadline } from "./_toolkit/deadline.ts";
import { createClient, MEMJS } from "./memcached/_client.ts";
import {
  checkOptions,
  type MemcachedDistribution,
  type MemcachedServer,
} from "./memcached/_options.ts";
import { ServerPool } from "./memcached/_pool.ts";
import { type Item, TextConnection } from "./memcached/_text.ts";
import {
  decodeInteger,
  decodeValue,
  type Encoded,
  encodeInteger,
  encodeValue,
  FLAG_GUARDED,
  FLAG_INTEGER,
  FLAG_SERIALIZED,
  OFFSET,
} from "./memcached/_values.ts";

export type { MemjsClient, MemjsResponse, MemjsServer } from "./memcached/_binary.ts";
export type { MemcachedDistribution, MemcachedServer } from "./memcached/_options.ts";

/** Options of {@linkcode MemcachedCache}. */
export interface MemcachedCacheOptions {
  /**
   * `"host:port"` or a list of them; an entry may be `{ address, weight }`
   * (a server with weight 2 gets twice the keys of one with weight 1 on the
   * ring). Default `"127.0.0.1:11211"`.
   */
  servers?: MemcachedServer | readonly MemcachedServer[] | undefined;
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
  /**
   * How keys are placed on several servers. `"ketama"` (default): a
   * consistent-hash ring compatible with libmemcached's `KETAMA_WEIGHTED`
   * (pylibmc, PHP memcached with `LIBKETAMA_COMPATIBLE`): md5, 160 points per
   * server, so a lost server moves only its own keys. `"modulo"`: memjs's
   * `hash % n` (`client.getServer`), for data placed by memjs.
   */
  distribution?: MemcachedDistribution | undefined;
  /**
   * ms a server stays marked down after a connection failure or a timeout:
   * calls routed to it fail at once with `CacheConnectionError`, then one call
   * probes it; each failed probe doubles the wait (up to 30 s). `0` turns the
   * breaker off (every call tries the server). Default 1000.
   */
  downRetryDelay?: number | undefined;
  /**
   * With a `keyPrefix`: ms a server's prefix generation is reused before it
   * is read again, so the longest a `clear()` made by another process can go
   * unseen here (this process's own `clear()` is seen at once). `0` reads it
   * alongside every operation (one more request per operation). Default 1000.
   */
  generationTtl?: number | undefined;
  /**
   * `true`: `getMany`/`getDict` return misses for the keys of a server that
   * fails (fail-open) instead of rejecting with a `CacheBatchError` that
   * carries the other servers' values. Default `false`.
   */
  getManyFailOpen?: boolean | undefined;
}

/** Where a key lives: the channel, the server's index and the key as sent. */
interface Placed {
  channel: Channel;
  index: number;
  mkey: string;
}

/** A server's prefix generation as this instance last knew it. */
interface Generation {
  /** The generation, `undefined` until read. */
  value: string | undefined;
  /** `performance.now()` when it was read or written. */
  at: number;
  /** Bumped by `clear()`: a read that began before it does not overwrite `value`. */
  epoch: number;
  /** A `clear()` could not write a new generation here: write one before the next use. */
  stale: boolean;
  /** That write, shared by concurrent calls. */
  writing: Promise<string> | undefined;
}

const EMPTY = new Uint8Array(0);
/** The binary protocol's `touch` opcode (not in memjs's list of the ones it sends). */
const OP_TOUCH = 0x1c;
/** Why {@linkcode MemcachedCache} has no `keys()`. */
const MEMCACHED_CANNOT_LIST =
  "memcached has no command that lists keys (lru_crawler metadump dumps raw, hashed and " +
  "namespaced item names of every client of the server)";
const NO_CREATE = 0xffffffff;
/** Attempts of every retry loop (a lost race, a changed generation) before a `CacheError`. */
const ATTEMPTS = 8;
/**
 * Attempts of `inc`/`dec` (read, then change only that item): each lost race
 * is another client's write to the key, so it may take more turns.
 */
const INC_ATTEMPTS = 64;
const ACCEPTED = [
  "client",
  "defaultTtl",
  "distribution",
  "downRetryDelay",
  "generationTtl",
  "getManyFailOpen",
  "keyPrefix",
  "serializer",
  "servers",
  "timeout",
];
const ascii = new TextDecoder("latin1");
const asciiEncoder = new TextEncoder();

/**
 * A cache on memcached servers, like Python cachelib's `MemcachedCache` but
 * with every key working (long, spaced or unicode keys are hashed), exact
 * counters below zero, one round trip per server for `getMany`, and outages
 * reported as `CacheConnectionError` instead of misses. Keys spread over the
 * servers on a libmemcached-compatible ketama ring; a server that fails is
 * marked down (its keys fail fast until a probe finds it back) and, with a
 * `keyPrefix`, each server keeps the prefix's generation for its own keys.
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
 *
 * @example Read what the servers that answered hold when one is down
 * ```ts ignore
 * import { CacheBatchError, MemcachedCache } from "@cachelib/cachelib";
 *
 * await using cache = new MemcachedCache({ servers: ["10.0.0.1", "10.0.0.2", "10.0.0.3"] });
 * const keys = ["a", "b", "c", "d"];
 * const values = await cache.getMany(keys).catch((error) => {
 *   if (!(error instanceof CacheBatchError) || !error.values) throw error;
 *   console.warn(`not read: ${error.unread}`); // the keys of the failed server
 *   return error.values; // the others' values, in order
 * });
 * ```
 */
export class MemcachedCache extends ByteCache {
  /** The prefix of every key this cache writes. */
  readonly keyPrefix: string;
  /** The longest wait in ms for a server. */
  readonly timeout: number;
  #servers: string[];
  readonly #storeName: string;

  /** The servers (without credentials) and the key prefix. */
  protected override _storeId(): string {
    return this.#storeName;
  }
  #pool: ServerPool;
  #channel: Channel | undefined;
  #ownsClient: boolean;
  #opening: Promise<Channel> | undefined;
  #texts: TextConnection[] = [];
  #generations: Generation[];
  #generationTtl: number;
  #failOpen: boolean;
  #custom: boolean;
  /** The last `inc`/`dec` queued per server and key: this instance's calls on a key take turns. */
  #incs = new Map<string, Promise<void>>();

  /**
   * Creates the cache; nothing connects until the first operation.
   *
   * @param options See {@linkcode MemcachedCacheOptions}.
   */
  constructor(options: MemcachedCacheOptions = {}) {
    checkOptionNames("MemcachedCache", options, ACCEPTED);
    super(options);
    this.#custom = this.serializer !== defaultSerializer;
    const checked = checkOptions(options);
    const { client, servers, keyPrefix, timeout } = checked;
    this.#servers = servers;
    this.#pool = new ServerPool(
      servers,
      checked.weights,
      checked.distribution,
      checked.downRetryDelay,
    );
    this.#generations = servers.map(() => ({
      value: undefined,
      at: 0,
      epoch: 0,
      stale: false,
      writing: undefined,
    }));
    this.#generationTtl = checked.generationTtl;
    this.#failOpen = checked.getManyFailOpen;
    this.keyPrefix = keyPrefix;
    this.timeout = timeout;
    this.#channel = client && new Channel(client, timeout);
    this.#ownsClient = client === undefined;
    const hosts = servers.map((server) => server.slice(server.lastIndexOf("@") + 1)).sort();
    this.#storeName = `memcached:${hosts.join(",")}|${keyPrefix}`;
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
    return withDeadline(
      opening,
      deadline - performance.now(),
      () =>
        new CacheError(
          `Cannot ${
            _opAndKey(op, key)
          }: the client library ${MEMJS} did not load within ${this.timeout} ms`,
        ),
    );
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
  #text(client: MemjsClient, index: number, op: string, key?: string): TextConnection {
    this._checkOpen(op, key); // closed while waiting: open no text connection
    const server = client.servers[index]!;
    return this.#texts[index] ??= new TextConnection(server.host, server.port, this.timeout);
  }

  /**
   * Runs `body` on the server that holds `key`, through that server's breaker
   * and in its namespace. The server is chosen by the key as sent without the
   * prefix and generation (`mapKey("", key)`), so a `clear()` never moves a key.
   */
  #onServer<T>(
    op: string,
    key: string,
    deadline: number,
    body: (channel: Channel, index: number, mkey: string) => Promise<T>,
  ): Promise<T> {
    const channel = this.#channel;
    if (channel) return this.#onServerOf(channel, op, key, deadline, body);
    return (this.#memjs(op, key, deadline) as Promise<Channel>).then((opened) =>
      this.#onServerOf(opened, op, key, deadline, body)
    );
  }

  #onServerOf<T>(
    channel: Channel,
    op: string,
    key: string,
    deadline: number,
    body: (channel: Channel, index: number, mkey: string) => Promise<T>,
  ): Promise<T> {
    const route = mapKey("", key);
    const index = this.#pool.indexFor(channel.client, route);
    return this.#pool.guard(index, op, key, () => {
      if (this.keyPrefix === "") return body(channel, index, route);
      return this.#inNamespace(
        channel,
        index,
        op,
        key,
        deadline,
        (ns) => body(channel, index, mapKey(ns, key)),
      );
    });
  }

  /**
   * Runs `body` in this cache's namespace on server `index`. With a key
   * prefix, each server holds its own generation of the prefix (bumped by
   * `clear()`), so a lost or restarted server affects only its own keys. The
   * generation last seen is reused for `generationTtl` ms; after that it is
   * read alongside `body`, and `body` runs again when it changed (a write to
   * an old generation is never visible).
   */
  async #inNamespace<T>(
    channel: Channel,
    index: number,
    op: string,
    key: string | undefined,
    deadline: number,
    body: (ns: string) => Promise<T>,
  ): Promise<T> {
    const generation = this.#generations[index]!;
    if (generation.stale) {
      // One write shared by concurrent calls: its failure is reworded to name this call's key.
      await this.#writeGeneration(channel, index, op, deadline).catch((error) => {
        throw naming(error, op, key);
      });
    }
    let seen = generation.value;
    if (seen === undefined) {
      const epoch = generation.epoch;
      seen = await this.#readGeneration(channel, index, op, key, deadline);
      if (generation.epoch === epoch) {
        generation.value = seen;
        generation.at = performance.now();
      }
      return body(namespace(this.keyPrefix, seen));
    }
    if (performance.now() - generation.at < this.#generationTtl) {
      return body(namespace(this.keyPrefix, seen));
    }
    for (let attempt = 1;; attempt++) {
      const epoch = generation.epoch;
      const [current, result]: [PromiseSettledResult<string>, PromiseSettledResult<T>] =
        await Promise.allSettled([
          this.#readGeneration(channel, index, op, key, deadline),
          body(namespace(this.keyPrefix, seen)),
        ]);
      if (current.status === "rejected") throw current.reason;
      if (generation.epoch === epoch) {
        generation.value = current.value;
        generation.at = performance.now();
      }
      if (current.value === seen) {
        if (result.status === "rejected") throw result.reason;
        return result.value;
      }
      seen = current.value;
      if (attempt === ATTEMPTS) {
        throw new CacheError(
          `Cannot ${_opAndKey(op, key)}: the generation of key prefix ${
            _describe(this.keyPrefix)
          } changed during each of ${ATTEMPTS} attempts (clear() called in a loop?)`,
        );
      }
    }
  }

  /**
   * The prefix's current generation on server `index`, created when missing.
   * Bounded: a server that refuses to store it (memory full with `-M`) is a
   * `CacheError`.
   */
  async #readGeneration(
    channel: Channel,
    index: number,
    op: string,
    userKey: string | undefined,
    deadline: number,
  ): Promise<string> {
    const key = generationKey(this.keyPrefix);
    for (let attempt = 1;; attempt++) {
      const found = await channel.send(index, op, userKey, key, OP.get, EMPTY, EMPTY, deadline);
      if (found.status === STATUS.ok) return ascii.decode(found.value);
      expectStatus(
        found,
        `${_opAndKey(op, userKey)} (reading the generation of the key prefix)`,
        undefined,
        [STATUS.notFound],
      );
      const fresh = newGeneration();
      const added = await channel.send(
        index,
        op,
        userKey,
        key,
        OP.add,
        storeExtras(FLAG_INTEGER, 0),
        asciiEncoder.encode(fresh),
        deadline,
      );
      if (added.status === STATUS.ok) return fresh;
      // Another client added it first (read it again); anything else is a failure.
      expectStatus(
        added,
        `${_opAndKey(op, userKey)} (creating the generation of the key prefix)`,
        undefined,
        [STATUS.exists, STATUS.notStored],
      );
      if (attempt === ATTEMPTS) {
        throw new CacheError(
          `Cannot ${_opAndKey(op, userKey)}: the generation of key prefix ${
            _describe(this.keyPrefix)
          } was neither readable nor creatable in ${ATTEMPTS} attempts`,
        );
      }
    }
  }

  /**
   * Writes a new generation of the prefix on server `index` (what `clear()`
   * does on each server). Concurrent calls share one write, so they all use
   * the same new generation.
   */
  #writeGeneration(channel: Channel, index: number, op: string, deadline: number): Promise<string> {
    const generation = this.#generations[index]!;
    return generation.writing ??= (async () => {
      const fresh = newGeneration();
      const epoch = ++generation.epoch; // reads begun before this write do not count
      try {
        const reply = await channel.send(
          index,
          op,
          undefined,
          generationKey(this.keyPrefix),
          OP.set,
          storeExtras(FLAG_INTEGER, 0),
          asciiEncoder.encode(fresh),
          deadline,
        );
        expectStatus(reply, op, undefined, [STATUS.ok]);
        if (generation.epoch === epoch) {
          generation.value = fresh;
          generation.at = performance.now();
          generation.stale = false;
        }
        return fresh;
      } catch (error) {
        generation.stale = true; // no old entry here may be read by this instance
        throw error;
      } finally {
        generation.writing = undefined;
      }
    })();
  }

  #decode(key: string, flags: number, bytes: Uint8Array): unknown {
    return decodeValue(key, flags, bytes, (data) => this._decode(key, data));
  }

  #encode(op: string, key: string, value: unknown): Encoded | Promise<Encoded> {
    return encodeValue(value, (data) => this._encode(op, key, data), this.#custom);
  }

  /** Reads one key. */
  protected _get(key: string): Promise<unknown> {
    const deadline = this.#deadline();
    return this.#onServer("get", key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(index, "get", key, mkey, OP.get, EMPTY, EMPTY, deadline);
      if (reply.status === STATUS.notFound) return undefined;
      expectStatus(reply, "get", key, [STATUS.ok]);
      return this.#decode(key, reply.flags, reply.value);
    });
  }

  /**
   * Reads many keys: one text-protocol `get` per server, all servers at once.
   * When some servers fail, a {@linkcode CacheBatchError} carries the values
   * read from the others (`values`) and the keys not read (`unread`); with
   * `getManyFailOpen`, those keys read as misses instead.
   */
  protected override async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const deadline = this.#deadline();
    const channel = await this.#memjs("getMany", undefined, deadline);
    const client = channel.client;
    const routes = keys.map((key) => mapKey("", key));
    const groups = this.#pool.group(client, routes);
    // positions undefined: one server holds the whole batch, in batch order.
    const read = (index: number, positions: number[] | undefined) => {
      const fetch = (ns: string) => {
        const asked = positions
          ? positions.map((p) => ns === "" ? routes[p]! : mapKey(ns, keys[p]!))
          : ns === ""
          ? routes
          : keys.map((key) => mapKey(ns, key));
        return this.#text(client, index, "getMany").getMany("getMany", asked, deadline);
      };
      return this.#pool.guard(
        index,
        "getMany",
        undefined,
        () =>
          this.keyPrefix === ""
            ? fetch("")
            : this.#inNamespace(channel, index, "getMany", undefined, deadline, fetch),
      );
    };
    const values = new Array<unknown>(keys.length).fill(undefined);
    if (groups.length === 1) {
      // One server holds the batch: its failure is the call's failure.
      const [index, positions] = groups[0]!;
      let items: (Item | undefined)[];
      try {
        items = await read(index, positions);
      } catch (error) {
        if (this.#failOpen && error instanceof CacheConnectionError) return values;
        throw error;
      }
      items.forEach((item, i) => {
        const p = positions ? positions[i]! : i;
        if (item) values[p] = this.#decode(keys[p]!, item.flags, item.value);
      });
      return await settled(values);
    }
    const results = await Promise.allSettled(
      groups.map(([index, positions]) => read(index, positions)),
    );
    const failed: unknown[] = [];
    const unread: string[] = [];
    results.forEach((result, g) => {
      const positions = groups[g]![1];
      if (result.status === "fulfilled") {
        result.value.forEach((item, i) => {
          const p = positions ? positions[i]! : i;
          if (item) values[p] = this.#decode(keys[p]!, item.flags, item.value);
        });
        return;
      }
      if (this.#failOpen && result.reason instanceof CacheConnectionError) return;
      failed.push(result.reason);
      if (positions) { for (const p of positions) unread.push(keys[p]!); }
      else unread.push(...keys);
    });
    if (failed.length === 0) return await settled(values);
    if (failed.length === groups.length) throw failed[0]; // nothing read: the failure itself
    const first = failed[0] as Error;
    throw new CacheBatchError(
      `Cannot getMany: ${failed.length} of ${groups.length} servers failed (first: ${first.message}); read ${
        keys.length - unread.length
      } of ${keys.length} keys, the error's values holds them`,
      { values: await settled(values), unread },
      { cause: first },
    );
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
    const opcode = op === "add" ? OP.add : OP.set;
    return this.#onServer(op, key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(
        index,
        op,
        key,
        mkey,
        opcode,
        extras,
        encoded.bytes,
        deadline,
      );
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
    return this.#encodeAndStore("set", key, value, ttl);
  }

  /** Stores one entry with memcached's atomic `add`. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#encodeAndStore("add", key, value, ttl);
  }

  /**
   * `add` over an entry no read returns (a stale getOrSet envelope, an invalidated tagged
   * entry): read with its CAS, judged, then replaced by a `set` carrying that CAS, so of
   * concurrent `add`s over one such entry exactly one stores. A key that emptied meanwhile
   * gets `add` again; a foreign or undecodable item stays taken.
   */
  protected override async _addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): Promise<boolean> {
    const deadline = this.#deadline();
    const found = await this.#onServer("add", key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(index, "add", key, mkey, OP.get, EMPTY, EMPTY, deadline);
      expectStatus(reply, "add", key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok ? reply : undefined;
    });
    if (found === undefined) return ifAbsent && await this._add(key, value, ttl);
    if (!(await _judgeStored(() => this.#decode(key, found.flags, found.value), dead))) {
      return false;
    }
    let encoded = this.#encode("add", key, value);
    if (encoded instanceof Promise) encoded = await encoded;
    const extras = storeExtras(encoded.flags, expiration(ttl));
    const bytes = encoded.bytes;
    const status = await this.#onServer("add", key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(
        index,
        "add",
        key,
        mkey,
        OP.set,
        extras,
        bytes,
        deadline,
        found.cas,
      );
      expectStatus(reply, "add", key, [
        STATUS.ok,
        STATUS.exists,
        STATUS.notFound,
        STATUS.notStored,
        STATUS.tooLarge,
        STATUS.outOfMemory,
      ]);
      return reply.status;
    });
    // A key that emptied meanwhile (deleted, expired) is free for `add` (not for `touch`).
    if (status === STATUS.notFound && ifAbsent) return await this._add(key, value, ttl);
    return status === STATUS.ok;
  }

  /** Encodes, then stores; awaits only an asynchronous serializer. */
  #encodeAndStore(op: "set" | "add", key: string, value: unknown, ttl: number): Promise<boolean> {
    const deadline = this.#deadline();
    const encoded = this.#encode(op, key, value);
    return encoded instanceof Promise
      ? encoded.then((ready) => this.#store(op, key, ready, ttl, deadline))
      : this.#store(op, key, encoded, ttl, deadline);
  }

  /**
   * Stores every entry, all requests at once. Every value is encoded first, so
   * a value that cannot be serialized stores nothing. A failure after some keys
   * were stored is a {@linkcode CacheBatchError} whose `stored` lists them (when
   * none was stored, the first failure itself).
   */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const deadline = this.#deadline();
    const encoded = await settled(
      entries.map(([key, value]) => this.#encode("setMany", key, value)),
    );
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
    return this.#onServer(op, key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(index, op, key, mkey, OP.delete, EMPTY, EMPTY, deadline);
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
    return this.#onServer("has", key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(index, "has", key, mkey, OP.get, EMPTY, EMPTY, deadline);
      expectStatus(reply, "has", key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok;
    });
  }

  /**
   * Adds `delta` to a counter, never touching an item it has not verified:
   * the item is read first (with its CAS), and only then changed, by the
   * server's `incr`/`decr` on that very item (the CAS must still match, so
   * the expiry stays and no concurrent write is lost). A missing key is
   * created with `add`; an integer a custom serializer (or `-0`) wrote is
   * replaced by the result as a decimal counter, keeping its remaining ttl
   * (text `mg`/`ms` with the CAS). Anything else (a string, another client's
   * number) is left exactly as it is and the call throws. A lost race retries
   * (at most 64 times, within the call's deadline); calls of this instance on
   * one key take turns, so they never race each other.
   */
  protected _addToCounter(key: string, delta: number, ttl: number, op: CounterOp): Promise<number> {
    const deadline = this.#deadline();
    return this.#onServer(op, key, deadline, (channel, index, mkey) => {
      const turn = `${index} ${mkey}`;
      const before = this.#incs.get(turn);
      const run = () => this.#incOn(op, key, { channel, index, mkey }, delta, ttl, deadline);
      const result = before ? before.then(run, run) : run();
      const settled = result.then(() => {}, () => {});
      this.#incs.set(turn, settled);
      settled.then(() => {
        if (this.#incs.get(turn) === settled) this.#incs.delete(turn);
      });
      return result;
    });
  }

  async #incOn(
    op: "inc" | "dec",
    key: string,
    at: Placed,
    delta: number,
    ttl: number,
    deadline: number,
  ): Promise<number> {
    const { channel, index, mkey } = at;
    const opcode = delta < 0 ? OP.decrement : OP.increment;
    const extras = counterExtras(BigInt(Math.abs(delta)), 0n, NO_CREATE);
    for (let attempt = 1;; attempt++) {
      const found = await channel.send(index, op, key, mkey, OP.get, EMPTY, EMPTY, deadline);
      if (found.status === STATUS.notFound) {
        const added = await channel.send(
          index,
          op,
          key,
          mkey,
          OP.add,
          storeExtras(FLAG_INTEGER, expiration(ttl)),
          encodeInteger(delta),
          deadline,
        );
        if (added.status === STATUS.ok) return delta;
        // Another client created it first: read it again.
        expectStatus(added, op, key, [STATUS.exists, STATUS.notStored]);
      } else {
        expectStatus(found, op, key, [STATUS.ok]);
        const counter = found.flags === FLAG_INTEGER ? decodeInteger(found.value) : undefined;
        if (counter !== undefined) {
          addDelta(op, key, counter, delta); // out of range: nothing written
          const reply = await channel.send(
            index,
            op,
            key,
            mkey,
            opcode,
            extras,
            EMPTY,
            deadline,
            found.cas,
          );
          // The server's answer, not `next`: memcached 1.6 keeps an item's CAS when it
          // increments in place, so two incrs holding one read's CAS can both succeed (the
          // counter stays exact; only a locally computed result would repeat a value).
          if (reply.status === STATUS.ok) return Number(counterValue(reply) - OFFSET);
          // Changed (status exists) or gone since the read: read it again.
          expectStatus(reply, op, key, [STATUS.exists, STATUS.notFound]);
        } else {
          const next = await this.#counterFrom(op, key, found.flags, found.value, delta);
          if (await this.#toCounter(op, key, at, next, delta, deadline)) return next;
        }
      }
      if (attempt === INC_ATTEMPTS) {
        throw new CacheError(
          `Cannot ${op} key ${
            _describe(key)
          }: the key changed under each of ${INC_ATTEMPTS} attempts`,
        );
      }
    }
  }

  /**
   * The result of adding `delta` to an item that is not a counter: an
   * integer serializer bytes hold (a custom serializer's, or `-0`), else the
   * contract's `TypeError` (or the `SerializationError` of a foreign item).
   */
  #counterFrom(
    op: "inc" | "dec",
    key: string,
    flags: number,
    bytes: Uint8Array,
    delta: number,
  ): number | Promise<number> {
    const finish = (current: unknown): number => {
      if ((flags & ~FLAG_GUARDED) === FLAG_SERIALIZED && Number.isSafeInteger(current)) {
        return addDelta(op, key, current, delta);
      }
      addDelta(op, key, current, delta);
      throw new TypeError(
        `Cannot ${op} key ${_describe(key)}: stored value is not a safe integer, found ${
          _describe(current)
        } (kept as serialized bytes)`,
      );
    };
    const current = this.#decode(key, flags, bytes);
    return current instanceof Promise ? current.then(finish) : finish(current);
  }

  /**
   * Replaces an integer held as serializer bytes by the counter `next`,
   * keeping its remaining ttl, if it is still that integer (CAS): `false`
   * when it changed meanwhile (the caller reads it again).
   */
  async #toCounter(
    op: "inc" | "dec",
    key: string,
    { channel, index, mkey }: Placed,
    next: number,
    delta: number,
    deadline: number,
  ): Promise<boolean> {
    const text = this.#text(channel.client, index, op, key);
    const item = await text.metaGet(_opAndKey(op, key), mkey, deadline);
    if (item === undefined) return false;
    if (
      (item.flags & ~FLAG_GUARDED) !== FLAG_SERIALIZED ||
      (await this.#counterFrom(op, key, item.flags, item.value, delta)) !== next
    ) {
      return false;
    }
    const exp = item.ttl < 0
      ? 0
      : expiration(Math.max(1, item.ttl) * 1000, Date.now(), MAX_TEXT_EXPIRATION);
    return await text.metaSetIfCas(
      _opAndKey(op, key),
      mkey,
      encodeInteger(next),
      FLAG_INTEGER,
      exp,
      item.cas,
      deadline,
    );
  }

  /**
   * Without a key prefix: `flush_all` on every server. With one: a new
   * generation of the prefix on every server, so its old entries are never
   * read again (memcached cannot list keys; they age out by ttl or LRU). When
   * a server fails, the others are still cleared and a
   * {@linkcode CacheBatchError} lists them in `flushed`; this instance then
   * writes a new generation on the failed server before it uses it again.
   */
  protected async _clear(): Promise<boolean> {
    const deadline = this.#deadline();
    const channel = await this.#memjs("clear", undefined, deadline);
    const client = channel.client;
    this._checkOpen("clear");
    const results = await Promise.allSettled(
      client.servers.map((_, i) =>
        this.#pool.guard<unknown>(
          i,
          "clear",
          undefined,
          () =>
            this.keyPrefix === ""
              ? this.#text(client, i, "clear").flushAll("clear", deadline)
              : this.#writeGeneration(channel, i, "clear", deadline),
        )
      ),
    );
    const names = this.#pool.addresses;
    const flushed = names.filter((_, i) => results[i]!.status === "fulfilled");
    results.forEach((result, i) => {
      // Not cleared there: this instance writes a new generation before its next use.
      if (result.status === "rejected" && this.keyPrefix !== "") {
        this.#generations[i]!.stale = true;
      }
    });
    throwIfFailed("clear", "servers", results, names, "flushed", flushed);
    return true;
  }

  // TTL operations (issue 16).

  /**
   * `mg <key> t` on the key's server: memcached counts whole seconds, so the result is a
   * multiple of 1000 ms (at least 1000 for a live key); `-1` (no expiry) is `0`.
   */
  protected override _ttl(key: string): Promise<number | undefined> {
    const deadline = this.#deadline();
    return this.#onServer("ttl", key, deadline, async (channel, index, mkey) => {
      const text = this.#text(channel.client, index, "ttl");
      const seconds = await text.metaTtl(_opAndKey("ttl", key), mkey, deadline);
      if (seconds === undefined) return undefined;
      return seconds < 0 ? 0 : Math.max(1, seconds) * 1000;
    });
  }

  /**
   * Memcached's binary `touch` (opcode 0x1c): the new expiration, rounded up to whole
   * seconds like every memcached ttl (absolute past 30 days); `false` when not found.
   */
  protected override _touch(key: string, ttl: number): Promise<boolean> {
    const deadline = this.#deadline();
    const extras = new Uint8Array(4);
    new DataView(extras.buffer).setUint32(0, expiration(ttl) >>> 0);
    return this.#onServer("touch", key, deadline, async (channel, index, mkey) => {
      const reply = await channel.send(
        index,
        "touch",
        key,
        mkey,
        OP_TOUCH,
        extras,
        EMPTY,
        deadline,
      );
      expectStatus(reply, "touch", key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok;
    });
  }

  /** Unsupported: memcached cannot list keys. */
  protected override _keys(): never {
    throw this._unsupported("keys", MEMCACHED_CANNOT_LIST);
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

/**
 * `error` (a shared request's failure, worded "Cannot op: …") worded for the
 * call on `key`: the same class, the original as its cause.
 */
function naming(error: unknown, op: string, key: string | undefined): unknown {
  const head = `Cannot ${op}: `;
  if (key === undefined || !(error instanceof CacheError) || !error.message.startsWith(head)) {
    return error;
  }
  const Class = error.constructor as new (message: string, options: ErrorOptions) => CacheError;
  return new Class(`Cannot ${_opAndKey(op, key)}: ${error.message.slice(head.length)}`, {
    cause: error,
  });
}

/** `values`, or (when an asynchronous serializer left promises in it) a promise of them resolved. */
function settled<T>(values: (T | Promise<T>)[]): T[] | Promise<T[]> {
  return values.some((value) => value instanceof Promise) ? Promise.all(values) : values as T[];
}
