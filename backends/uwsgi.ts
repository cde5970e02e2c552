/**
 * {@linkcode UwsgiCache}: a uWSGI cache server, reached over uWSGI's own wire
 * protocol from any Deno process.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { BaseCache } from "./_base.ts";
import { _describe, addDelta, CacheConnectionError, CacheError } from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";
import {
  encodePacket,
  type Endpoint,
  request,
  type UwsgiPacket,
  UwsgiTransportError,
} from "./uwsgi/protocol.ts";

/** Options of {@linkcode UwsgiCache}. */
export interface UwsgiCacheOptions {
  /** `"host:port"` of the uWSGI socket serving the cache (`[::1]:3031` for IPv6). Default `"127.0.0.1:3031"`. */
  server?: string | undefined;
  /**
   * The uWSGI cache name (`--cache2 name=…`), or cachelib's `"name@host:port"`
   * form, which also sets the server. Default: the server's first cache.
   */
  cache?: string | undefined;
  /** Lifetime in ms of entries stored without a ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Turns values into bytes; default {@linkcode defaultSerializer}. */
  serializer?: Serializer | undefined;
  /** ms one request (connect, send, reply) may take before it fails. Default 5000. */
  timeout?: number | undefined;
}

/** Keys up to this many UTF-8 bytes go to the server as they are; longer ones are hashed. */
const MAX_RAW_KEY = 250;
/** Requests one instance keeps in flight at once (uWSGI's default listen queue is 100). */
const MAX_IN_FLIGHT = 32;
const encoder = new TextEncoder();

/**
 * A cache kept by a uWSGI server (`uwsgi --plugin cache --cache2 …`), like
 * Python cachelib's `UWSGICache`, but usable from any Deno process: it speaks
 * the uwsgi protocol (one request per TCP connection) instead of running
 * inside a uWSGI worker.
 *
 * uWSGI limits what a client can know: ttls are whole seconds (rounded up),
 * `inc`/`dec` read and write back (not atomic), and a write the server declines
 * (value over its `blocksize`, cache full, unknown cache name) returns `false`.
 * `clear()` empties the whole named uWSGI cache. See docs/design.md.
 *
 * @example Cache through a uWSGI server
 * ```ts ignore
 * // uwsgi --plugin cache --cache2 name=app,items=1000 --socket 127.0.0.1:3031
 * import { UwsgiCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new UwsgiCache({ server: "127.0.0.1:3031", cache: "app" });
 * await cache.set("user:1", { name: "Ada" }, 60_000);
 * assert.deepEqual(await cache.get("user:1"), { name: "Ada" });
 * ```
 */
export class UwsgiCache extends BaseCache {
  /** The uWSGI cache name (`""`: the server's first cache). */
  readonly cacheName: string;
  /** `"host:port"` of the server. */
  readonly server: string;
  #endpoint: Endpoint;
  #inFlight = 0;
  #waiting: (() => void)[] = [];
  /** The last pending `inc` per key: this instance runs its own increments of a key one at a time. */
  #incs = new Map<string, Promise<unknown>>();

  /**
   * Creates a cache client; no connection is made until the first call.
   *
   * @param options See {@linkcode UwsgiCacheOptions}.
   * @throws {TypeError} A malformed `server` or `cache`.
   * @throws {RangeError} A `timeout` that is not a finite number > 0.
   */
  constructor(options: UwsgiCacheOptions = {}) {
    super(options);
    let server = options.server;
    let name = options.cache ?? "";
    if (typeof name !== "string") {
      throw new TypeError(
        `Cannot create UwsgiCache: cache must be a string, received ${_describe(name)}`,
      );
    }
    const at = name.lastIndexOf("@");
    if (at >= 0) {
      const fromName = name.slice(at + 1);
      if (server !== undefined && server !== fromName) {
        throw new TypeError(
          `Cannot create UwsgiCache: cache ${_describe(name)} names server ${
            _describe(fromName)
          } but server is ${_describe(server)}`,
        );
      }
      server = fromName;
      name = name.slice(0, at);
    }
    this.server = server ?? "127.0.0.1:3031";
    this.cacheName = name;
    const timeout = options.timeout ?? 5000;
    if (typeof timeout !== "number" || !(timeout > 0) || timeout === Infinity) {
      throw new RangeError(
        `Cannot create UwsgiCache: timeout must be a finite number of ms > 0, received ${
          _describe(timeout)
        }`,
      );
    }
    this.#endpoint = { ...parseServer(this.server), timeout };
  }

  /** Sends one request, at most 32 at a time; transport failures name the key. */
  async #send(
    op: string,
    key: string | undefined,
    vars: [string, string | Uint8Array][],
    body?: Uint8Array,
  ): Promise<UwsgiPacket | null> {
    if (this.cacheName) vars.push(["cache", this.cacheName]);
    const packet = encodePacket(vars, body);
    if (this.#inFlight >= MAX_IN_FLIGHT) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#inFlight++;
    try {
      return await request(this.#endpoint, packet);
    } catch (cause) {
      if (!(cause instanceof UwsgiTransportError)) throw cause;
      // uWSGI resets the connection when it refuses a write before reading its body
      // (a value over the block size); that is a declined write while the server is up.
      if (cause.failure === "reset" && body && (await this.#reachable())) return null;
      const what = key === undefined ? op : `${op} key ${_describe(key)}`;
      throw new CacheConnectionError(`Cannot ${what}: ${cause.message}`, { cause });
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#inFlight--;
    }
  }

  /** Whether the server accepts connections right now (within the timeout). */
  async #reachable(): Promise<boolean> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#endpoint.timeout);
    try {
      const { hostname, port } = this.#endpoint;
      (await Deno.connect({ hostname, port, signal: controller.signal })).close();
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads an entry as stored: its bytes, absolute expiry (s, 0 = never) and
   * whether it is still live, or `undefined` when the server has none.
   */
  async #entry(
    op: string,
    key: string,
  ): Promise<{ body: Uint8Array; expires: number; live: boolean } | undefined> {
    const reply = await this.#send(op, key, [["cmd", "get"], ["key", wireKey(key)]]);
    if (reply?.vars.get("status") !== "ok") return undefined;
    const expires = Number(reply.vars.get("expires") ?? 0);
    // uWSGI's sweeper drops expired entries only every few seconds: never return one.
    return { body: reply.body, expires, live: expires === 0 || Date.now() < expires * 1000 };
  }

  /** Reads a live entry, or `undefined`. */
  async #read(op: string, key: string): Promise<{ body: Uint8Array; expires: number } | undefined> {
    const entry = await this.#entry(op, key);
    return entry?.live ? entry : undefined;
  }

  /** Writes with `cmd` `update` (overwrite) or `set` (only when absent); `true` when stored. */
  async #write(
    op: string,
    cmd: "set" | "update",
    key: string,
    bytes: Uint8Array,
    expires: number,
  ): Promise<boolean> {
    if (bytes.length === 0) {
      throw new CacheError(`Cannot ${op} key ${_describe(key)}: uWSGI cannot store an empty value`);
    }
    const vars: [string, string | Uint8Array][] = [
      ["cmd", cmd],
      ["key", wireKey(key)],
      ["size", String(bytes.length)],
    ];
    if (expires > 0) vars.push(["expires", String(expires)]);
    const reply = await this.#send(op, key, vars, bytes);
    return reply?.vars.get("status") === "ok";
  }

  /** Reads one key. */
  protected async _get(key: string): Promise<unknown> {
    const entry = await this.#read("get", key);
    return entry === undefined ? undefined : this._decode(key, entry.body);
  }

  /** Overwrites one entry (uWSGI `update`). */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#write("set", "update", key, this._encode("set", key, value), seconds(ttl));
  }

  /** Stores one entry only when absent (uWSGI `set`, atomic on the server). */
  protected async _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const bytes = this._encode("add", key, value);
    if (await this.#write("add", "set", key, bytes, seconds(ttl))) return true;
    // Declined: a live entry, or an expired one the sweeper has not removed yet.
    const entry = await this.#entry("add", key);
    if (entry === undefined || entry.live) return false;
    await this.#send("add", key, [["cmd", "del"], ["key", wireKey(key)]]);
    return await this.#write("add", "set", key, bytes, seconds(ttl));
  }

  /** Removes one key: `true` only when a live entry was removed. */
  protected async _delete(key: string): Promise<boolean> {
    const entry = await this.#entry("delete", key);
    if (entry === undefined) return false;
    const reply = await this.#send("delete", key, [["cmd", "del"], ["key", wireKey(key)]]);
    return entry.live && reply?.vars.get("status") === "ok";
  }

  /** Whether the key holds a live entry (a `get`: uWSGI's `exists` ignores expiry). */
  protected async _has(key: string): Promise<boolean> {
    return (await this.#read("has", key)) !== undefined;
  }

  /** Empties the whole uWSGI cache. */
  protected async _clear(): Promise<boolean> {
    const reply = await this.#send("clear", undefined, [["cmd", "clear"]]);
    return reply?.vars.get("status") === "ok";
  }

  /**
   * Read, add, write back. uWSGI's remote interface has no increment, so this
   * is not atomic across clients; within this instance, increments of one key
   * run one after another and never lose a count.
   */
  protected _inc(key: string, delta: number, ttl: number, op: "inc" | "dec"): Promise<number> {
    const previous = this.#incs.get(key);
    const run = (previous ? previous.then(noop, noop) : Promise.resolve())
      .then(() => this.#incNow(op, key, delta, ttl));
    this.#incs.set(key, run);
    const forget = () => {
      if (this.#incs.get(key) === run) this.#incs.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  async #incNow(op: "inc" | "dec", key: string, delta: number, ttl: number): Promise<number> {
    const entry = await this.#read(op, key);
    const current = entry === undefined ? 0 : this._decode(key, entry.body);
    const next = addDelta(op, key, current, delta);
    // Keep an existing expiry: uWSGI takes relative seconds, the reply gave absolute ones.
    const expires = entry === undefined
      ? seconds(ttl)
      : entry.expires === 0
      ? 0
      : Math.max(1, entry.expires - Math.floor(Date.now() / 1000));
    if (!(await this.#write(op, "update", key, this._encode(op, key, next), expires))) {
      throw new CacheError(
        `Cannot ${op} key ${_describe(key)}: uWSGI declined to store the new value (cache full?)`,
      );
    }
    return next;
  }
}

function noop(): void {}

/** A ttl in ms as uWSGI's relative seconds, rounded up; `0` stays "never". */
function seconds(ttl: number): number {
  return Math.ceil(ttl / 1000);
}

/**
 * The key as sent to uWSGI. Keys of 1 to 250 UTF-8
 * bytes that do not start with NUL go as they are; every other key (empty,
 * long, NUL-first, or with a lone surrogate UTF-8 cannot carry) becomes NUL +
 * a tag + its SHA-256, a namespace no raw key can enter.
 */
function wireKey(key: string): string | Uint8Array {
  if (!key.isWellFormed()) {
    const units = new Uint16Array(key.length);
    for (let i = 0; i < key.length; i++) units[i] = key.charCodeAt(i);
    return `\u0000u:${
      createHash("sha256").update(new Uint8Array(units.buffer)).digest("base64url")
    }`;
  }
  const bytes = encoder.encode(key);
  if (bytes.length === 0 || bytes.length > MAX_RAW_KEY || bytes[0] === 0) {
    return `\u0000h:${createHash("sha256").update(bytes).digest("base64url")}`;
  }
  return bytes;
}

/** Splits `"host:port"` (or `"[v6]:port"`). */
function parseServer(server: unknown): { hostname: string; port: number } {
  const bad = (why: string) =>
    new TypeError(
      `Cannot create UwsgiCache: server must be "host:port", ${why}, received ${_describe(server)}`,
    );
  if (typeof server !== "string") throw bad("a string");
  const colon = server.lastIndexOf(":");
  if (colon <= 0) throw bad("with a port");
  const hostname = server.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(server.slice(colon + 1));
  if (
    !Number.isInteger(port) || port < 1 || port > 65535 || !/^\d+$/.test(server.slice(colon + 1))
  ) {
    throw bad("with a port from 1 to 65535");
  }
  return { hostname, port };
}
