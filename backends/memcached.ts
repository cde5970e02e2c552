/**
 * {@linkcode MemcachedCache}: a cache on one or more memcached servers,
 * through `npm:memjs` (loaded on first use) plus a small text-protocol client
 * for multi-key reads.
 *
 * @module
 */
import { _describe, addDelta, CacheError } from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";
import { BaseCache } from "./_base.ts";
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
import { checkOptions } from "./memcached/options.ts";
import { TextConnection } from "./memcached/text.ts";
import { decodeValue, encodeValue, FLAG_INTEGER, fromCounter, OFFSET } from "./memcached/values.ts";

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
  /** Encodes values other than safe integers. Default {@linkcode defaultSerializer}. */
  serializer?: Serializer | undefined;
  /** The longest wait in ms for any server answer before `CacheConnectionError`. Default 5000. */
  timeout?: number | undefined;
}

const EMPTY = new Uint8Array(0);
const NO_CREATE = 0xffffffff;
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
export class MemcachedCache extends BaseCache {
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

  /**
   * Creates the cache; nothing connects until the first operation.
   *
   * @param options See {@linkcode MemcachedCacheOptions}.
   */
  constructor(options: MemcachedCacheOptions = {}) {
    super(options);
    const { client, servers, keyPrefix, timeout } = checkOptions(options);
    this.#servers = servers;
    this.keyPrefix = keyPrefix;
    this.timeout = timeout;
    this.#channel = client && new Channel(client, timeout);
    this.#ownsClient = client === undefined;
  }

  /** The channel over the memjs client, created (and memjs loaded) on first use. */
  #memjs(): Channel | Promise<Channel> {
    return this.#channel ?? (this.#opening ??= this.#open());
  }

  async #open(): Promise<Channel> {
    let memjs: { Client: { create(servers: string, options: object): MemjsClient } };
    try {
      const mod = await import("memjs");
      memjs = mod.Client ? mod : mod.default;
    } catch (cause) {
      throw new CacheError(`Cannot load npm:memjs: ${(cause as Error).message}`, { cause });
    }
    const client = memjs.Client.create(this.#servers.join(","), {
      retries: 1,
      timeout: this.timeout / 1000,
      conntimeout: this.timeout / 1000,
      failover: false,
      logger: { log() {} },
    });
    return this.#channel = new Channel(client, this.timeout);
  }

  /** The text-protocol connection to server `index` of the memjs client. */
  #text(client: MemjsClient, index: number): TextConnection {
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
  ): Promise<Reply> {
    const channel = this.#channel;
    if (channel) return channel.send(op, key, mkey, opcode, extras, value);
    return (this.#opening ??= this.#open()).then((opened) =>
      opened.send(op, key, mkey, opcode, extras, value)
    );
  }

  /**
   * Runs `body` in this cache's namespace. With a key prefix, the namespace
   * holds the prefix's generation (bumped by `clear()`); the last one seen is
   * used at once while the current one is read alongside, and `body` runs
   * again when they differ (a write to an old generation is never visible).
   */
  async #inNamespace<T>(op: string, body: (ns: string) => Promise<T>): Promise<T> {
    if (this.keyPrefix === "") return body("");
    if (this.#generation === undefined) {
      this.#generation = await this.#readGeneration(op);
      return body(namespace(this.keyPrefix, this.#generation));
    }
    let seen: string = this.#generation;
    for (;;) {
      const [current, result]: [PromiseSettledResult<string>, PromiseSettledResult<T>] =
        await Promise.allSettled([
          this.#readGeneration(op),
          body(namespace(this.keyPrefix, seen)),
        ]);
      if (current.status === "rejected") throw current.reason;
      if (current.value === seen) {
        if (result.status === "rejected") throw result.reason;
        return result.value;
      }
      seen = this.#generation = current.value;
    }
  }

  async #readGeneration(op: string): Promise<string> {
    const key = generationKey(this.keyPrefix);
    for (;;) {
      const found = await this.#send(op, undefined, key, OP.get, EMPTY, EMPTY);
      if (found.status === STATUS.ok) return ascii.decode(found.value);
      const fresh = newGeneration();
      const added = await this.#send(
        op,
        undefined,
        key,
        OP.add,
        storeExtras(FLAG_INTEGER, 0),
        asciiEncoder.encode(fresh),
      );
      if (added.status === STATUS.ok) return fresh;
    }
  }

  #decode(key: string, flags: number, bytes: Uint8Array): unknown {
    return decodeValue(key, flags, bytes, (data) => this._decode(key, data));
  }

  /** Reads one key. */
  protected _get(key: string): Promise<unknown> {
    if (this.keyPrefix === "") return this.#getIn("", key);
    return this.#inNamespace("get", (ns) => this.#getIn(ns, key));
  }

  async #getIn(ns: string, key: string): Promise<unknown> {
    const reply = await this.#send("get", key, mapKey(ns, key), OP.get, EMPTY, EMPTY);
    if (reply.status === STATUS.notFound) return undefined;
    expectStatus(reply, "get", key, [STATUS.ok]);
    return this.#decode(key, reply.flags, reply.value);
  }

  /** Reads many keys: one text-protocol `get` per server, all servers at once. */
  protected override _getMany(keys: readonly string[]): Promise<unknown[]> {
    return this.#inNamespace("getMany", async (ns) => {
      const { client } = await this.#memjs();
      this._checkOpen("getMany"); // closed while connecting: open no text connection
      const mkeys = keys.map((key) => mapKey(ns, key));
      const values = new Array<unknown>(keys.length).fill(undefined);
      const read = async (index: number, positions: number[] | undefined) => {
        const asked = positions ? positions.map((p) => mkeys[p]!) : mkeys;
        const items = await this.#text(client, index).getMany("getMany", asked);
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

  #store(op: "set" | "add", key: string, value: unknown, ttl: number): Promise<boolean> {
    const { flags, bytes } = encodeValue(value, (data) => this._encode(op, key, data));
    const extras = storeExtras(flags, expiration(ttl));
    return this.#inNamespace(op, async (ns) => {
      const opcode = op === "set" ? OP.set : OP.add;
      const reply = await this.#send(op, key, mapKey(ns, key), opcode, extras, bytes);
      expectStatus(reply, op, key, [STATUS.ok, STATUS.exists, STATUS.notStored, STATUS.tooLarge]);
      return reply.status === STATUS.ok;
    });
  }

  /** Stores one entry; `false` when the value is over the server's item size limit. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#store("set", key, value, ttl);
  }

  /** Stores one entry with memcached's atomic `add`. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#store("add", key, value, ttl);
  }

  /** Removes one key. */
  protected _delete(key: string): Promise<boolean> {
    return this.#inNamespace("delete", async (ns) => {
      const reply = await this.#send("delete", key, mapKey(ns, key), OP.delete, EMPTY, EMPTY);
      expectStatus(reply, "delete", key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok;
    });
  }

  /** Whether the key holds a live entry. */
  protected _has(key: string): Promise<boolean> {
    return this.#inNamespace("has", async (ns) => {
      const reply = await this.#send("has", key, mapKey(ns, key), OP.get, EMPTY, EMPTY);
      expectStatus(reply, "has", key, [STATUS.ok, STATUS.notFound]);
      return reply.status === STATUS.ok;
    });
  }

  /**
   * Adds `delta` with memcached's atomic `incr`/`decr` on the offset integer,
   * creating a missing key with the ttl in the same request.
   */
  protected _inc(key: string, delta: number, ttl: number, op: "inc" | "dec"): Promise<number> {
    const opcode = delta < 0 ? OP.decrement : OP.increment;
    const amount = BigInt(Math.abs(delta));
    const extras = counterExtras(amount, OFFSET + BigInt(delta), expiration(ttl));
    return this.#inNamespace(op, async (ns) => {
      const mkey = mapKey(ns, key);
      const reply = await this.#send(op, key, mkey, opcode, extras, EMPTY);
      if (reply.status === STATUS.nonNumeric) {
        const current = await this._get(key);
        addDelta(op, key, current, delta);
        throw new TypeError(
          `Cannot ${op} key ${_describe(key)}: stored value is not a safe integer, found ${
            _describe(current)
          } (kept as serialized bytes)`,
        );
      }
      expectStatus(reply, op, key, [STATUS.ok]);
      const stored = counterValue(reply);
      const next = fromCounter(stored);
      if (!Number.isSafeInteger(next)) {
        const undo = delta < 0 ? OP.increment : OP.decrement;
        await this.#send(op, key, mkey, undo, counterExtras(amount, 0n, NO_CREATE), EMPTY);
        addDelta(op, key, fromCounter(stored - BigInt(delta)), delta);
      }
      return next;
    });
  }

  /**
   * Without a key prefix: `flush_all` on every server. With one: a new
   * generation for the prefix, so its old entries are never read again
   * (memcached cannot list keys; they age out by ttl or LRU).
   */
  protected async _clear(): Promise<boolean> {
    const { client } = await this.#memjs();
    this._checkOpen("clear");
    if (this.keyPrefix === "") {
      await Promise.all(client.servers.map((_, i) => this.#text(client, i).flushAll("clear")));
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
    );
    expectStatus(reply, "clear", undefined, [STATUS.ok]);
    this.#generation = fresh;
    return true;
  }

  /** Closes the connections this cache opened (a given memjs client stays open). */
  protected override async _close(): Promise<void> {
    for (const text of this.#texts) text?.close();
    const channel = this.#channel ?? await this.#opening?.catch(() => undefined);
    channel?.close();
    if (this.#ownsClient) channel?.client.close();
  }
}
