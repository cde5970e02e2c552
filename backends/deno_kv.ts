/**
 * {@linkcode DenoKvCache}: a cache in Deno KV, the shared store of Deno
 * Deploy. Needs `--unstable-kv` outside Deno Deploy.
 *
 * @module
 */
import { _opAndKey, addDelta, CacheConnectionError, CacheError, scrubSecrets } from "../cache.ts";
import { withDeadline } from "./_toolkit/deadline.ts";
import { _identityOf, _judgeStored, ByteCache, type CounterOp } from "./_base.ts";
import { type DenoKvCacheOptions, resolveOptions } from "./deno_kv/_options.ts";
import {
  decodeHeader,
  encodeHeader,
  fromBlob,
  INLINE_MAX,
  keyPart,
  keySize,
  MAX_CHECKS,
  MAX_COMMIT_BYTES,
  toBlob,
} from "./deno_kv/_layout.ts";
import { call, commit, commitAll, expiring } from "./deno_kv/_commit.ts";
import { listKeys } from "./deno_kv/_keys.ts";
import {
  type Action,
  type Current,
  expireInFor,
  type KvStore,
  readEntry,
  type ReadMode,
  writeEntry,
} from "./deno_kv/_entries.ts";

export type { DenoKvCacheOptions };

function noop(): void {}

/** KV's largest `getMany`. */
const GET_MANY_MAX = 10;

/**
 * A cache in Deno KV (`Deno.openKv`), shared by every isolate of a Deno Deploy
 * project, or by processes that open the same local KV file. Outside Deno
 * Deploy, `Deno.openKv` needs the `--unstable-kv` flag.
 *
 * Expiry is exact: each entry carries its expiry and reads check it (KV's own
 * `expireIn` deletes lazily and only reclaims storage). Values over KV's
 * 64 KiB limit are chunked and swapped in atomically, keys of any length work
 * (long ones are hashed and verified), and `add`, `inc` and `dec` are atomic
 * across processes.
 *
 * @example Cache in Deno KV (run with --unstable-kv)
 * ```ts ignore
 * import { DenoKvCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * await using cache = new DenoKvCache({ prefix: ["my-app", "cache"], defaultTtl: 60_000 });
 * await cache.set("user:1", { name: "Ada" });
 * assert.deepEqual(await cache.get("user:1"), { name: "Ada" });
 * assert.equal(await cache.inc("visits"), 1);
 * ```
 */
export class DenoKvCache extends ByteCache {
  #store: KvStore | undefined;
  #opening: Promise<KvStore> | undefined;
  readonly #owned: boolean;
  readonly #path: string | undefined;
  readonly #prefix: Deno.KvKey;
  readonly #now: () => number;
  readonly #timeout: number;
  readonly #secrets: readonly string[];
  /** The last pending single-key write per key: this instance writes a key one call at a time. */
  readonly #writes = new Map<string, Promise<unknown>>();

  /**
   * Creates a cache; a KV database given by `path` (or the default one) is
   * opened on first use.
   *
   * @param options See {@linkcode DenoKvCacheOptions}.
   */
  constructor(options: DenoKvCacheOptions = {}) {
    const resolved = resolveOptions(options);
    super({ defaultTtl: resolved.defaultTtl, serializer: resolved.serializer, now: resolved.now });
    this.#prefix = resolved.prefix;
    this.#now = resolved.now;
    this.#timeout = resolved.timeout;
    this.#secrets = resolved.secrets;
    if (resolved.kv) this.#store = { kv: resolved.kv, prefix: this.#prefix, now: this.#now };
    this.#owned = resolved.kv === undefined;
    this.#path = resolved.path;
    const where = resolved.kv
      ? _identityOf(resolved.kv)
      : `path ${scrubSecrets(resolved.path ?? "(default)", resolved.secrets)}`;
    const prefix = this.#prefix.map((part) => `${typeof part}:${String(part)}`).join("/");
    this.#storeName = `deno-kv:${where}|${prefix}`;
  }

  readonly #storeName: string;

  /** The database (its path, or the handle given) and the key prefix. */
  protected override _storeId(): string {
    return this.#storeName;
  }

  /** Reads one key. */
  async #get(key: string): Promise<unknown> {
    const store = await this.#open("get", key);
    const current = await readEntry(store, "get", key, keyPart(key), "value");
    return current.bytes ? this._decode(key, current.bytes) : undefined;
  }

  /** Reads several keys: headers in batches of KV's 10-key `getMany`, chunks where needed. */
  async #getMany(keys: readonly string[]): Promise<unknown[]> {
    const store = await this.#open("getMany");
    const distinct = [...new Set(keys)];
    const parts = distinct.map(keyPart);
    const batches: Deno.KvKey[][] = [];
    for (let i = 0; i < parts.length; i += GET_MANY_MAX) {
      batches.push(parts.slice(i, i + GET_MANY_MAX).map((part) => [...this.#prefix, part]));
    }
    const entries = (await Promise.all(
      batches.map((batch) => call("getMany", undefined, () => store.kv.getMany(batch))),
    )).flat();
    const now = this.#now();
    const values = await Promise.all(distinct.map(async (key, i) => {
      const header = decodeHeader(entries[i]!.value);
      if (!header || (header.expires !== 0 && header.expires <= now)) return undefined;
      const part = parts[i]!;
      const bytes = header.inline
        ? fromBlob(key, typeof part !== "string", header.inline)
        : (await readEntry(store, "getMany", key, part, "value")).bytes;
      return bytes ? this._decode(key, bytes) : undefined;
    }));
    const byKey = new Map(distinct.map((key, i) => [key, values[i]]));
    return keys.map((key) => byKey.get(key));
  }

  /** Writes one entry. */
  async #set(key: string, value: unknown, ttl: number): Promise<boolean> {
    let bytes = this._encode("set", key, value);
    if (bytes instanceof Promise) bytes = await bytes;
    const ready = bytes;
    const expires = this.#expiry(ttl);
    return await this.#write("set", key, "header", () => [true, { bytes: ready, expires }]);
  }

  /**
   * Writes several entries in few commits: up to 100 inline entries per commit
   * (KV's limit of checks), each checked against the header it replaces. A
   * conflict, a chunked value or a chunked old value falls back to `_set`.
   */
  async #setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const unique = [...new Map(entries)]; // a repeated key stores its last value
    const store = await this.#open("setMany");
    const kv = store.kv;
    const expires = this.#expiry(ttl);
    const single: [string, unknown][] = [];
    const groups: { entry: [string, unknown]; key: Deno.KvKey; header: Uint8Array }[][] = [[]];
    let size = 0;
    let encoded = unique.map((entry) => this._encode("setMany", ...entry));
    if (encoded.some((bytes) => bytes instanceof Promise)) encoded = await Promise.all(encoded);
    for (const [n, entry] of unique.entries()) {
      const part = keyPart(entry[0]);
      const blob = toBlob(entry[0], typeof part !== "string", encoded[n] as Uint8Array);
      if (blob.length > INLINE_MAX) {
        single.push(entry);
        continue;
      }
      const key = [...this.#prefix, part];
      const bytes = keySize(key) + blob.length + 16;
      if (groups.at(-1)!.length === MAX_CHECKS || size + bytes > MAX_COMMIT_BYTES) {
        groups.push([]);
        size = 0;
      }
      groups.at(-1)!.push({ entry, key, header: encodeHeader(expires, blob) });
      size += bytes;
    }
    const expireIn = expiring(expireInFor(store, expires));
    for (const group of groups) {
      const reads: Promise<Deno.KvEntryMaybe<unknown>[]>[] = [];
      for (let i = 0; i < group.length; i += GET_MANY_MAX) {
        const keys = group.slice(i, i + GET_MANY_MAX).map((item) => item.key);
        reads.push(call("setMany", undefined, () => kv.getMany(keys)));
      }
      const current = (await Promise.all(reads)).flat();
      const atomic = kv.atomic();
      let simple = true;
      for (const [i, item] of group.entries()) {
        simple &&= !decodeHeader(current[i]!.value)?.chunks;
        atomic.check({ key: item.key, versionstamp: current[i]!.versionstamp });
        atomic.set(item.key, item.header, expireIn);
      }
      if (!simple || !(await commit("setMany", undefined, atomic)).ok) {
        single.push(...group.map((item) => item.entry));
      }
    }
    await Promise.all(single.map(([key, value]) => this.#set(key, value, ttl)));
    return entries.map(([key]) => key);
  }

  /** Writes one entry if the key holds no live entry, atomically (`check` on the header). */
  async #add(key: string, value: unknown, ttl: number): Promise<boolean> {
    let bytes = this._encode("add", key, value);
    if (bytes instanceof Promise) bytes = await bytes;
    const ready = bytes;
    const expires = this.#expiry(ttl);
    return await this.#write("add", key, "verify", (current) => {
      return current.live ? [false, undefined] : [true, { bytes: ready, expires }];
    });
  }

  /**
   * `add` over an entry no read returns (a stale getOrSet envelope, an invalidated tagged
   * entry): read, judged and replaced in one commit checked against the read's versionstamp,
   * so of concurrent `add`s over one such entry exactly one stores.
   */
  async #addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): Promise<boolean> {
    let bytes = this._encode("add", key, value);
    if (bytes instanceof Promise) bytes = await bytes;
    const ready = bytes;
    return await this.#write("add", key, "value", async (current) => {
      const store: [boolean, Action] = [true, { bytes: ready, expires: this.#expiry(ttl) }];
      if (!current.live) return ifAbsent ? store : [false, undefined];
      const bytes = current.bytes;
      if (!bytes) return [false, undefined];
      return (await _judgeStored(() => this._decode(key, bytes), dead))
        ? store
        : [false, undefined];
    });
  }

  /** Removes one key. */
  #delete(key: string): Promise<boolean> {
    return this.#write("delete", key, "verify", (current) => {
      return current.live ? [true, "delete"] : [false, undefined];
    });
  }

  /** Checks one key. */
  async #has(key: string): Promise<boolean> {
    const store = await this.#open("has", key);
    return (await readEntry(store, "has", key, keyPart(key), "verify")).live;
  }

  /** Removes every entry under the prefix, in commits of at most 1000 mutations. */
  async #clear(): Promise<boolean> {
    const { kv } = await this.#open("clear");
    const list = kv.list({ prefix: this.#prefix }, { batchSize: 1000 });
    const keys = async function* () {
      for await (const entry of list) yield { key: entry.key };
    };
    await call("clear", undefined, () => commitAll(kv, "clear", undefined, keys()));
    return true;
  }

  /** Adds to a counter atomically: read, compute, commit with `check`, retry on conflict. */
  #counter(key: string, delta: number, ttl: number, op: CounterOp): Promise<number> {
    return this.#write(op, key, "value", (current) => {
      const stored = current.bytes ? this._decode(key, current.bytes) : 0;
      const expires = current.bytes ? current.header!.expires : this.#expiry(ttl);
      const finish = (found: unknown): [number, Action] | Promise<[number, Action]> => {
        const next = addDelta(op, key, found, delta);
        const bytes = this._encode(op, key, next);
        return bytes instanceof Promise
          ? bytes.then((ready) => [next, { bytes: ready, expires }])
          : [next, { bytes, expires }];
      };
      // An asynchronous serializer: decide after it answers (the commit checks the version).
      return stored instanceof Promise ? stored.then(finish) : finish(stored);
    });
  }

  /** Reads one key. */
  protected _get(key: string): Promise<unknown> {
    return this.#timed("get", key, () => this.#get(key));
  }

  /** Reads several keys. */
  protected override _getMany(keys: readonly string[]): Promise<unknown[]> {
    return this.#timed("getMany", undefined, () => this.#getMany(keys));
  }

  /** Writes one entry. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#timed("set", key, () => this.#set(key, value, ttl));
  }

  /** Writes several entries. */
  protected override _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    return this.#timed("setMany", undefined, () => this.#setMany(entries, ttl));
  }

  /** Writes one entry if the key holds no live entry. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#timed("add", key, () => this.#add(key, value, ttl));
  }

  /** `add` over an entry no read returns, by a checked commit. */
  protected override _addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): Promise<boolean> {
    return this.#timed("add", key, () => this.#addOverDead(key, value, ttl, dead, ifAbsent));
  }

  /** Removes one key. */
  protected _delete(key: string): Promise<boolean> {
    return this.#timed("delete", key, () => this.#delete(key));
  }

  /** Checks one key. */
  protected _has(key: string): Promise<boolean> {
    return this.#timed("has", key, () => this.#has(key));
  }

  /** Removes every entry under the prefix. */
  protected _clear(): Promise<boolean> {
    return this.#timed("clear", undefined, () => this.#clear());
  }

  /** Adds to a counter atomically. */
  protected _addToCounter(key: string, delta: number, ttl: number, op: CounterOp): Promise<number> {
    return this.#timed(op, key, () => this.#counter(key, delta, ttl, op));
  }

  /** Where the database is, for messages (credentials scrubbed by the caller). */
  #where(): string {
    return this.#path === undefined ? "the default Deno KV" : `Deno KV at "${this.#path}"`;
  }

  /**
   * Runs one call within the cache's `timeout`, counted from now: a call still waiting
   * then rejects with `CacheConnectionError` (the KV operation itself cannot be cancelled
   * and may still complete).
   */
  #timed<T>(op: string, key: string | undefined, work: () => Promise<T>): Promise<T> {
    let started: Promise<T>;
    try {
      started = work();
    } catch (error) {
      return Promise.reject(error);
    }
    return withDeadline(started, this.#timeout, () => {
      const message = `Cannot ${
        _opAndKey(op, key)
      }: no answer from ${this.#where()} within ${this.#timeout} ms (timeout); the operation may still complete`;
      return new CacheConnectionError(scrubSecrets(message, this.#secrets), { op, key });
    });
  }

  /** Closes the KV database when this cache opened it. */
  protected override async _close(): Promise<void> {
    if (!this.#owned) return;
    await this.#opening?.catch(() => {}); // an open finishing after close() closes itself
    this.#store?.kv.close();
    this.#store = undefined;
  }

  #expiry(ttl: number): number {
    return ttl === 0 ? 0 : this.#now() + ttl;
  }

  /**
   * Runs one single-key write through {@linkcode writeEntry}, after this instance's
   * earlier writes of the same key: contention inside one instance waits in this queue,
   * so only other instances and processes make a commit conflict and retry.
   */
  #write<R>(
    op: string,
    key: string,
    mode: ReadMode,
    decide: (current: Current) => [R, Action] | Promise<[R, Action]>,
  ): Promise<R> {
    const previous = this.#writes.get(key);
    const run = (previous ? previous.then(noop, noop) : Promise.resolve())
      .then(async () => writeEntry(await this.#open(op, key), op, key, mode, decide));
    this.#writes.set(key, run);
    const forget = () => {
      if (this.#writes.get(key) === run) this.#writes.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  // TTL operations (issue 16).

  /** The remaining ttl from the header's expiry (on the cache's clock). */
  protected override async _ttl(key: string): Promise<number | undefined> {
    const store = await this.#open("ttl", key);
    const current = await readEntry(store, "ttl", key, keyPart(key), "verify");
    if (!current.live) return undefined;
    const expires = current.header!.expires;
    return expires === 0 ? 0 : Math.max(1, expires - this.#now());
  }

  /**
   * Rewrites a live entry's header with the new expiry (and KV's `expireIn`), through the
   * one write path, so it is atomic against other writers; a chunked value is rewritten
   * whole (its chunks carry the `expireIn` too).
   */
  protected override _touch(key: string, ttl: number): Promise<boolean> {
    const expires = this.#expiry(ttl);
    return this.#write("touch", key, "value", (current) => {
      return current.live && current.bytes
        ? [true, { bytes: current.bytes, expires }]
        : [false, undefined];
    });
  }

  /** Lists the prefix; see `deno_kv/_keys.ts`. */
  protected override async _keys(prefix: string): Promise<AsyncIterable<string>> {
    return listKeys(await this.#open("keys"), prefix);
  }

  /** The KV database with prefix and clock: the one given, or the one at `path`, opened on first use. */
  #open(op: string, key?: string): Promise<KvStore> {
    if (this.#store) return Promise.resolve(this.#store);
    this.#opening ??= (async () => {
      if (typeof Deno.openKv !== "function") {
        throw new CacheError("Deno.openKv is unavailable, run with --unstable-kv");
      }
      const kv = await Deno.openKv(this.#path);
      if (this._closed) kv.close();
      else this.#store = { kv, prefix: this.#prefix, now: this.#now };
      return { kv, prefix: this.#prefix, now: this.#now };
    })();
    return this.#opening.catch((cause: Error) => {
      this.#opening = undefined;
      const what = _opAndKey(op, key);
      const Class = cause instanceof CacheError ? CacheError : CacheConnectionError;
      // A remote KV URL may carry a user, password or access token: none reaches a message.
      const message = scrubSecrets(
        `Cannot ${what}: cannot open ${this.#where()}: ${cause.message}`,
        this.#secrets,
      );
      throw new Class(message, { cause: redactedCause(cause, this.#secrets), op, key });
    });
  }
}

/** `cause` itself, or a copy without the credentials its message or stack quotes. */
function redactedCause(cause: Error, secrets: readonly string[]): Error {
  const message = scrubSecrets(cause.message, secrets);
  const stack = cause.stack === undefined ? undefined : scrubSecrets(cause.stack, secrets);
  if (message === cause.message && stack === cause.stack) return cause;
  const copy = new Error(message);
  copy.name = cause.name;
  if (stack !== undefined) copy.stack = stack;
  return copy;
}
