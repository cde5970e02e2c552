/**
 * {@linkcode UwsgiCache}: a uWSGI cache server, reached over uWSGI's own wire
 * protocol from any Deno process.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ByteCache, type CounterOp } from "./_base.ts";
import { resolveOptions, type UwsgiCacheOptions } from "./uwsgi/_options.ts";
import { watchdog } from "./_toolkit/deadline.ts";
import { keyDigestText } from "./_toolkit/keys.ts";
import { throwIfFailed } from "./_toolkit/batch.ts";
import { _describe, _opAndKey, addDelta, CacheConnectionError, CacheError } from "../cache.ts";
import {
  encodePacket,
  type Endpoint,
  request,
  timeoutError,
  type UwsgiPacket,
  UwsgiTransportError,
} from "./uwsgi/_protocol.ts";

export type { UwsgiCacheOptions };

/** Keys up to this many UTF-8 bytes go to the server as they are; longer ones are hashed. */
const MAX_RAW_KEY = 250;
/** Requests one instance keeps in flight at once (uWSGI's default listen queue is 100). */
const MAX_IN_FLIGHT = 32;
const encoder = new TextEncoder();

const QUEUED_NOTE =
  ` (waited for one of the ${MAX_IN_FLIGHT} connections this client keeps in flight)`;

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
export class UwsgiCache extends ByteCache {
  /** The uWSGI cache name (`""`: the server's first cache). */
  readonly cacheName: string;
  /** `"host:port"` of the server. */
  readonly server: string;
  #endpoint: Endpoint;
  #inFlight = 0;
  /** Calls waiting for one of the {@linkcode MAX_IN_FLIGHT} connections, oldest first. */
  #waiting = new Set<() => void>();
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
    super({ defaultTtl: options.defaultTtl, serializer: options.serializer });
    const resolved = resolveOptions(options);
    this.server = resolved.server;
    this.cacheName = resolved.cache;
    this.#endpoint = resolved.endpoint;
  }

  /** The server (without credentials) and the cache name. */
  protected override _storeId(): string {
    return `uwsgi:${this.server.slice(this.server.lastIndexOf("@") + 1)}|${this.cacheName}`;
  }

  /** The deadline of a call made now: `timeout` ms from now (`Date.now()` ms). */
  #deadline(): number {
    return Date.now() + this.#endpoint.timeout;
  }

  /**
   * Sends one request of a call, at most 32 at a time, before the call's `deadline`
   * (which covers the wait for a connection too); transport failures name the key.
   */
  async #send(
    op: string,
    key: string | undefined,
    deadline: number,
    vars: [string, string | Uint8Array][],
    body?: Uint8Array,
  ): Promise<UwsgiPacket | null> {
    if (this.cacheName) vars.push(["cache", this.cacheName]);
    const packet = encodePacket(vars, body);
    const what = _opAndKey(op, key);
    // A call that queued for a connection says so if it runs out of time, whether the
    // deadline passed in the queue or on the request it sent once a connection was free.
    const queued = this.#inFlight >= MAX_IN_FLIGHT;
    try {
      await this.#slot(deadline);
    } catch (cause) {
      throw new CacheConnectionError(`Cannot ${what}: ${(cause as Error).message}`, {
        cause,
        op,
        key,
      });
    }
    try {
      return await request(this.#endpoint, packet, deadline);
    } catch (cause) {
      if (!(cause instanceof UwsgiTransportError)) throw cause;
      // uWSGI resets the connection when it refuses a write before reading its body
      // (a value over the block size); that is a declined write while the server is up.
      if (cause.failure === "reset" && body && (await this.#reachable(deadline))) return null;
      const note = queued && cause.failure === "timeout" ? QUEUED_NOTE : "";
      throw new CacheConnectionError(`Cannot ${what}: ${cause.message}${note}`, {
        cause,
        op,
        key,
      });
    } finally {
      this.#release();
    }
  }

  /** Gives a finished request's connection to the oldest waiting call, or frees it. */
  #release(): void {
    const [next] = this.#waiting;
    if (next) {
      this.#waiting.delete(next);
      next();
    } else this.#inFlight--;
  }

  /**
   * Takes one of the {@linkcode MAX_IN_FLIGHT} connections, waiting (oldest first) until
   * one is free or the deadline passes (then a timeout `UwsgiTransportError`).
   */
  #slot(deadline: number): Promise<void> {
    if (this.#inFlight < MAX_IN_FLIGHT) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const late = () => timeoutError(this.#endpoint, undefined, QUEUED_NOTE);
      const granted = () => {
        disarm();
        if (Date.now() < deadline) return resolve(); // the connection is handed over
        this.#release(); // handed a connection too late: pass it on
        reject(late());
      };
      const disarm = watchdog(deadline - Date.now(), () => {
        this.#waiting.delete(granted);
        reject(late());
      });
      this.#waiting.add(granted);
    });
  }

  /** Whether the server accepts connections right now (before the deadline). */
  async #reachable(deadline: number): Promise<boolean> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    const controller = new AbortController();
    const disarm = watchdog(remaining, () => controller.abort());
    try {
      const { hostname, port } = this.#endpoint;
      (await Deno.connect({ hostname, port, signal: controller.signal })).close();
      return true;
    } catch {
      return false;
    } finally {
      disarm();
    }
  }

  /**
   * Reads an entry as stored: its bytes, absolute expiry (s, 0 = never) and
   * whether it is still live, or `undefined` when the server has none.
   */
  async #entry(
    op: string,
    key: string,
    deadline: number,
  ): Promise<{ body: Uint8Array; expires: number; live: boolean } | undefined> {
    const reply = await this.#send(op, key, deadline, [["cmd", "get"], ["key", wireKey(key)]]);
    if (reply?.vars.get("status") !== "ok") return undefined;
    const expires = Number(reply.vars.get("expires") ?? 0);
    // uWSGI's sweeper drops expired entries only every few seconds: never return one.
    return { body: reply.body, expires, live: expires === 0 || Date.now() < expires * 1000 };
  }

  /** Reads a live entry, or `undefined`. */
  async #read(
    op: string,
    key: string,
    deadline: number,
  ): Promise<{ body: Uint8Array; expires: number } | undefined> {
    const entry = await this.#entry(op, key, deadline);
    return entry?.live ? entry : undefined;
  }

  /** Writes with `cmd` `update` (overwrite) or `set` (only when absent); `true` when stored. */
  async #write(
    op: string,
    cmd: "set" | "update",
    key: string,
    bytes: Uint8Array,
    expires: number,
    deadline: number,
  ): Promise<boolean> {
    if (bytes.length === 0) {
      throw new CacheError(
        `Cannot ${op} key ${_describe(key)}: uWSGI cannot store an empty value`,
        {
          op,
          key,
        },
      );
    }
    const vars: [string, string | Uint8Array][] = [
      ["cmd", cmd],
      ["key", wireKey(key)],
      ["size", String(bytes.length)],
    ];
    if (expires > 0) vars.push(["expires", String(expires)]);
    const reply = await this.#send(op, key, deadline, vars, bytes);
    return reply?.vars.get("status") === "ok";
  }

  /** Reads one key. */
  protected async _get(key: string): Promise<unknown> {
    const entry = await this.#read("get", key, this.#deadline());
    return entry === undefined ? undefined : this._decode(key, entry.body);
  }

  /** Overwrites one entry (uWSGI `update`). */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#set("set", key, value, ttl);
  }

  async #set(op: string, key: string, value: unknown, ttl: number): Promise<boolean> {
    const deadline = this.#deadline();
    let bytes = this._encode(op, key, value);
    if (bytes instanceof Promise) bytes = await bytes;
    return await this.#write(op, "update", key, bytes, seconds(ttl), deadline);
  }

  /**
   * Stores several entries, one request each, concurrently. When some fail (the server
   * went away mid-batch), a `CacheBatchError` whose `stored` lists the keys written.
   */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const results = await Promise.allSettled(
      entries.map(async ([key, value]) => await this.#set("setMany", key, value, ttl)),
    );
    const keys = entries.map(([key]) => key);
    const stored = keys.filter((_, i) => {
      const result = results[i]!;
      return result.status === "fulfilled" && result.value;
    });
    throwIfFailed("setMany", "keys", results, keys, "stored", stored);
    return stored;
  }

  /** Removes several keys concurrently; a partial failure is a `CacheBatchError` with `deleted`. */
  protected override async _deleteMany(keys: readonly string[]): Promise<string[]> {
    const distinct = [...new Set(keys)];
    const results = await Promise.allSettled(distinct.map((key) => this._delete(key)));
    const deleted = distinct.filter((_, i) => {
      const result = results[i]!;
      return result.status === "fulfilled" && result.value;
    });
    throwIfFailed("deleteMany", "keys", results, distinct, "deleted", deleted);
    return deleted;
  }

  /** Stores one entry only when absent (uWSGI `set`, atomic on the server). */
  protected async _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const deadline = this.#deadline();
    let bytes = this._encode("add", key, value);
    if (bytes instanceof Promise) bytes = await bytes;
    if (await this.#write("add", "set", key, bytes, seconds(ttl), deadline)) return true;
    // Declined: a live entry, or an expired one the sweeper has not removed yet.
    const entry = await this.#entry("add", key, deadline);
    if (entry === undefined || entry.live) return false;
    await this.#send("add", key, deadline, [["cmd", "del"], ["key", wireKey(key)]]);
    return await this.#write("add", "set", key, bytes, seconds(ttl), deadline);
  }

  /** Removes one key: `true` only when a live entry was removed. */
  protected async _delete(key: string): Promise<boolean> {
    const deadline = this.#deadline();
    const entry = await this.#entry("delete", key, deadline);
    if (entry === undefined) return false;
    const del: [string, string | Uint8Array][] = [["cmd", "del"], ["key", wireKey(key)]];
    const reply = await this.#send("delete", key, deadline, del);
    return entry.live && reply?.vars.get("status") === "ok";
  }

  /** Whether the key holds a live entry (a `get`: uWSGI's `exists` ignores expiry). */
  protected async _has(key: string): Promise<boolean> {
    return (await this.#read("has", key, this.#deadline())) !== undefined;
  }

  /** Empties the whole uWSGI cache. */
  protected async _clear(): Promise<boolean> {
    const reply = await this.#send("clear", undefined, this.#deadline(), [["cmd", "clear"]]);
    return reply?.vars.get("status") === "ok";
  }

  /**
   * Read, add, write back. uWSGI's remote interface has no increment, so this
   * is not atomic across clients; within this instance, increments of one key
   * run one after another and never lose a count. The call's deadline covers its
   * wait behind earlier increments of the key.
   */
  protected _addToCounter(key: string, delta: number, ttl: number, op: CounterOp): Promise<number> {
    const deadline = this.#deadline();
    const previous = this.#incs.get(key);
    const run = (previous ? previous.then(noop, noop) : Promise.resolve())
      .then(() => this.#incNow(op, key, delta, ttl, deadline));
    this.#incs.set(key, run);
    const forget = () => {
      if (this.#incs.get(key) === run) this.#incs.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  async #incNow(
    op: "inc" | "dec",
    key: string,
    delta: number,
    ttl: number,
    deadline: number,
  ): Promise<number> {
    const entry = await this.#read(op, key, deadline);
    let current = entry === undefined ? 0 : this._decode(key, entry.body);
    if (current instanceof Promise) current = await current;
    const next = addDelta(op, key, current, delta);
    // Keep an existing expiry: uWSGI takes relative seconds, the reply gave absolute ones.
    const expires = entry === undefined
      ? seconds(ttl)
      : entry.expires === 0
      ? 0
      : Math.max(1, entry.expires - Math.floor(Date.now() / 1000));
    let bytes = this._encode(op, key, next);
    if (bytes instanceof Promise) bytes = await bytes;
    if (!(await this.#write(op, "update", key, bytes, expires, deadline))) {
      throw new CacheError(
        `Cannot ${op} key ${_describe(key)}: uWSGI declined to store the new value (cache full?)`,
        { op, key },
      );
    }
    return next;
  }

  // TTL operations (issue 16).

  /**
   * From the `expires` (absolute seconds) a `get` reply carries: the remaining ms on this
   * machine's clock, at least 1 for a live entry; `0` for none.
   */
  protected override async _ttl(key: string): Promise<number | undefined> {
    const entry = await this.#read("ttl", key, this.#deadline());
    if (entry === undefined) return undefined;
    return entry.expires === 0 ? 0 : Math.max(1, entry.expires * 1000 - Date.now());
  }

  /**
   * Read, then `update` with the same bytes and the new ttl (whole seconds, rounded up).
   * uWSGI's remote interface has no touch, so like `inc` this is not atomic across clients
   * (another client's write in between is overwritten with the value read); within this
   * instance it runs in the key's queue with `inc`/`dec`.
   */
  protected override _touch(key: string, ttl: number): Promise<boolean> {
    const deadline = this.#deadline();
    const previous = this.#incs.get(key);
    const run = (previous ? previous.then(noop, noop) : Promise.resolve()).then(async () => {
      const entry = await this.#read("touch", key, deadline);
      if (entry === undefined) return false;
      if (!(await this.#write("touch", "update", key, entry.body, seconds(ttl), deadline))) {
        throw new CacheError(
          `Cannot touch key ${_describe(key)}: uWSGI declined to store the entry again`,
          { op: "touch", key },
        );
      }
      return true;
    });
    this.#incs.set(key, run);
    const forget = () => {
      if (this.#incs.get(key) === run) this.#incs.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  /** Unsupported: uWSGI's cache protocol cannot list keys. */
  protected override _keys(): never {
    throw this._unsupported(
      "keys",
      "uWSGI's cache protocol has no command that lists keys (get, set, update, del, " +
        "exists and clear only)",
    );
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
    return `\u0000u:${keyDigestText(key)}`;
  }
  const bytes = encoder.encode(key);
  if (bytes.length === 0 || bytes.length > MAX_RAW_KEY || bytes[0] === 0) {
    return `\u0000h:${createHash("sha256").update(bytes).digest("base64url")}`;
  }
  return bytes;
}
