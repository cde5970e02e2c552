/**
 * {@linkcode DenoKvCache}: a cache in Deno KV, the shared store of Deno
 * Deploy. Needs `--unstable-kv` outside Deno Deploy.
 *
 * @module
 */
import { _describe, CacheConnectionError, CacheError } from "../cache.ts";
import { addDelta } from "../cache.ts";
import type { Serializer } from "../serializers/serializer.ts";
import { BaseCache } from "./_base.ts";
import {
  decodeHeader,
  encodeHeader,
  fromBlob,
  type Header,
  INLINE_MAX,
  join,
  keyPart,
  keySize,
  MAX_CHECKS,
  MAX_COMMIT_BYTES,
  MAX_MUTATIONS,
  MAX_PREFIX_BYTES,
  split,
  toBlob,
} from "./deno_kv/_layout.ts";
import {
  backoff,
  call,
  commit,
  commitAll,
  expiring,
  MAX_ATTEMPTS,
  type Mutation,
} from "./deno_kv/_commit.ts";

/** Options of {@linkcode DenoKvCache}. */
export interface DenoKvCacheOptions {
  /** An open `Deno.Kv` to use; `close()` leaves it open. */
  kv?: Deno.Kv | undefined;
  /** A path for `Deno.openKv(path)`, opened on first use and closed by `close()`. */
  path?: string | undefined;
  /** The KV key prefix of every entry (default `["cachelib"]`); prefixes of caches must not nest. */
  prefix?: Deno.KvKey | undefined;
  /** Lifetime in ms of entries stored without an explicit ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Turns values into bytes (default `defaultSerializer`). */
  serializer?: Serializer | undefined;
  /** The clock for expiry, in ms (default `Date.now`). */
  now?: (() => number) | undefined;
}

/** What a read found under one key. */
interface Current {
  versionstamp: string | null;
  header: Header | undefined;
  live: boolean;
  bytes?: Uint8Array;
}
/** What a read must establish: the header only, liveness (key verified), or the value too. */
type ReadMode = "header" | "verify" | "value";
/** What a write decided: nothing, remove the entry, or store bytes. */
type Action = undefined | "delete" | { bytes: Uint8Array; expires: number };
const GET_MANY_MAX = 10;
const READ_ATTEMPTS = 5;
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
 * import { DenoKvCache } from "./mod.ts";
 *
 * await using cache = new DenoKvCache({ prefix: ["my-app", "cache"], defaultTtl: 60_000 });
 * await cache.set("user:1", { name: "Ada" });
 * console.log(await cache.get("user:1")); // { name: "Ada" }
 * console.log(await cache.inc("visits")); // 1
 * ```
 */
export class DenoKvCache extends BaseCache {
  #kv: Deno.Kv | undefined;
  #opening: Promise<Deno.Kv> | undefined;
  readonly #owned: boolean;
  readonly #path: string | undefined;
  readonly #prefix: Deno.KvKey;
  readonly #now: () => number;

  /**
   * Creates a cache; a KV database given by `path` (or the default one) is
   * opened on first use.
   *
   * @param options See {@linkcode DenoKvCacheOptions}.
   */
  constructor(options: DenoKvCacheOptions = {}) {
    super({ defaultTtl: options.defaultTtl, serializer: options.serializer });
    if (options.kv !== undefined && options.path !== undefined) {
      throw new TypeError("Cannot create DenoKvCache: give either kv or path, not both");
    }
    const prefix = options.prefix ?? ["cachelib"];
    if (!Array.isArray(prefix) || prefix.length === 0) {
      throw new TypeError(
        `Cannot create DenoKvCache: prefix must be a non-empty KV key (an empty one would let clear() empty the whole database), received ${
          _describe(prefix)
        }`,
      );
    }
    if (keySize(prefix) > MAX_PREFIX_BYTES) {
      throw new RangeError(
        `Cannot create DenoKvCache: prefix must encode to at most ${MAX_PREFIX_BYTES} bytes`,
      );
    }
    this.#prefix = Object.freeze([...prefix]);
    this.#kv = options.kv;
    this.#owned = options.kv === undefined;
    this.#path = options.path;
    this.#now = options.now ?? Date.now;
  }

  /** Reads one key. */
  protected async _get(key: string): Promise<unknown> {
    const kv = await this.#open("get", key);
    const current = await this.#read(kv, "get", key, keyPart(key), "value");
    return current.bytes ? this._decode(key, current.bytes) : undefined;
  }

  /** Reads several keys: headers in batches of KV's 10-key `getMany`, chunks where needed. */
  protected override async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const kv = await this.#open("getMany");
    const distinct = [...new Set(keys)];
    const parts = distinct.map(keyPart);
    const batches: Deno.KvKey[][] = [];
    for (let i = 0; i < parts.length; i += GET_MANY_MAX) {
      batches.push(parts.slice(i, i + GET_MANY_MAX).map((part) => [...this.#prefix, part]));
    }
    const entries = (await Promise.all(
      batches.map((batch) => call("getMany", undefined, () => kv.getMany(batch))),
    )).flat();
    const now = this.#now();
    const values = await Promise.all(distinct.map(async (key, i) => {
      const header = decodeHeader(entries[i]!.value);
      if (!header || (header.expires !== 0 && header.expires <= now)) return undefined;
      const part = parts[i]!;
      const bytes = header.inline
        ? fromBlob(key, typeof part !== "string", header.inline)
        : (await this.#read(kv, "getMany", key, part, "value")).bytes;
      return bytes ? this._decode(key, bytes) : undefined;
    }));
    const byKey = new Map(distinct.map((key, i) => [key, values[i]]));
    return keys.map((key) => byKey.get(key));
  }

  /** Writes one entry. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    const bytes = this._encode("set", key, value);
    const expires = this.#expiry(ttl);
    return this.#mutate("set", key, "header", () => [true, { bytes, expires }]);
  }

  /**
   * Writes several entries in few commits: up to 100 inline entries per commit
   * (KV's limit of checks), each checked against the header it replaces. A
   * conflict, a chunked value or a chunked old value falls back to `_set`.
   */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const unique = [...new Map(entries)]; // a repeated key stores its last value
    const kv = await this.#open("setMany");
    const expires = this.#expiry(ttl);
    const single: [string, unknown][] = [];
    const groups: { entry: [string, unknown]; key: Deno.KvKey; header: Uint8Array }[][] = [[]];
    let size = 0;
    for (const entry of unique) {
      const part = keyPart(entry[0]);
      const blob = toBlob(entry[0], typeof part !== "string", this._encode("setMany", ...entry));
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
    const expireIn = expiring(this.#expireIn(expires));
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
    await Promise.all(single.map(([key, value]) => this._set(key, value, ttl)));
    return entries.map(([key]) => key);
  }

  /** Writes one entry if the key holds no live entry, atomically (`check` on the header). */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const bytes = this._encode("add", key, value);
    const expires = this.#expiry(ttl);
    return this.#mutate("add", key, "verify", (current) => {
      return current.live ? [false, undefined] : [true, { bytes, expires }];
    });
  }

  /** Removes one key. */
  protected _delete(key: string): Promise<boolean> {
    return this.#mutate("delete", key, "verify", (current) => {
      return current.live ? [true, "delete"] : [false, undefined];
    });
  }

  /** Checks one key. */
  protected async _has(key: string): Promise<boolean> {
    const kv = await this.#open("has", key);
    return (await this.#read(kv, "has", key, keyPart(key), "verify")).live;
  }

  /** Removes every entry under the prefix, in commits of at most 1000 mutations. */
  protected async _clear(): Promise<boolean> {
    const kv = await this.#open("clear");
    const list = kv.list({ prefix: this.#prefix }, { batchSize: 1000 });
    await commitAll(
      kv,
      "clear",
      undefined,
      (async function* () {
        for await (const entry of list) yield { key: entry.key };
      })(),
    );
    return true;
  }

  /** Adds to a counter atomically: read, compute, commit with `check`, retry on conflict. */
  protected _inc(key: string, delta: number, ttl: number): Promise<number> {
    return this.#mutate("inc", key, "value", (current) => {
      const stored = current.bytes ? this._decode(key, current.bytes) : 0;
      const next = addDelta("inc", key, stored, delta);
      const expires = current.bytes ? current.header!.expires : this.#expiry(ttl);
      return [next, { bytes: this._encode("inc", key, next), expires }];
    });
  }

  /** Closes the KV database when this cache opened it. */
  protected override async _close(): Promise<void> {
    if (!this.#owned) return;
    const kv = this.#kv ?? await this.#opening?.catch(() => undefined);
    kv?.close();
  }

  #expiry(ttl: number): number {
    return ttl === 0 ? 0 : this.#now() + ttl;
  }

  /** KV's `expireIn` for an absolute expiry: the remaining time, at least 1 ms. */
  #expireIn(expires: number): number | undefined {
    return expires === 0 ? undefined : Math.max(1, Math.ceil(expires - this.#now()));
  }

  /** The KV database: the one given, or the one at `path`, opened on first use. */
  #open(op: string, key?: string): Promise<Deno.Kv> {
    if (this.#kv) return Promise.resolve(this.#kv);
    this.#opening ??= (async () => {
      if (typeof Deno.openKv !== "function") {
        throw new CacheError("Deno.openKv is unavailable, run with --unstable-kv");
      }
      const kv = await Deno.openKv(this.#path);
      if (this._closed) kv.close();
      else this.#kv = kv;
      return kv;
    })();
    return this.#opening.catch((cause: Error) => {
      this.#opening = undefined;
      const what = key === undefined ? op : `${op} key ${_describe(key)}`;
      const where = this.#path === undefined ? "the default Deno KV" : `Deno KV at "${this.#path}"`;
      const Class = cause instanceof CacheError ? CacheError : CacheConnectionError;
      throw new Class(`Cannot ${what}: cannot open ${where}: ${cause.message}`, { cause });
    });
  }

  /** Reads the header (and, per `mode`, the value) of one key, retrying a torn chunk read. */
  async #read(
    kv: Deno.Kv,
    op: string,
    key: string,
    part: string | Uint8Array,
    mode: ReadMode,
  ): Promise<Current> {
    const hashed = typeof part !== "string";
    const headerKey = [...this.#prefix, part];
    for (let attempt = 1;; attempt++) {
      const entry = await call(op, key, () => kv.get(headerKey));
      const header = decodeHeader(entry.value);
      const found = { versionstamp: entry.versionstamp, header, live: false };
      if (!header || (header.expires !== 0 && header.expires <= this.#now())) return found;
      if (mode === "header" || (mode === "verify" && !hashed)) return { ...found, live: true };
      let blob = header.inline;
      if (header.chunks) {
        const prefix = [...headerKey, header.chunks.id];
        const chunks = await call(op, key, () => Array.fromAsync(kv.list({ prefix })));
        blob = join(chunks, header.chunks);
        // A writer replaced the entry between the two reads: read the new header.
        if (!blob && attempt < READ_ATTEMPTS) continue;
      }
      const bytes = blob && fromBlob(key, hashed, blob);
      return bytes ? { ...found, live: true, bytes } : found;
    }
  }

  /**
   * The one write path: reads the key, lets `decide` choose, then commits the
   * choice with a `check` on the header's versionstamp, retrying (bounded) when
   * another writer got there first. A large value's chunks are written under a
   * fresh id, in the same commit as the header when they fit, else staged
   * before it; the old chunk set is deleted with the header swap.
   */
  async #mutate<R>(
    op: string,
    key: string,
    mode: ReadMode,
    decide: (current: Current) => [R, Action],
  ): Promise<R> {
    const kv = await this.#open(op, key);
    const part = keyPart(key);
    const headerKey = [...this.#prefix, part];
    let staged: { bytes: Uint8Array; id: string; keys: Deno.KvKey[] } | undefined;
    let committed = false;
    try {
      for (let attempt = 1;; attempt++) {
        const current = await this.#read(kv, op, key, part, mode);
        const [result, action] = decide(current);
        if (action === undefined) return result;
        const atomic = kv.atomic().check({ key: headerKey, versionstamp: current.versionstamp });
        let count = 1;
        let size = keySize(headerKey);
        if (action === "delete") {
          atomic.delete(headerKey);
        } else {
          const blob = toBlob(key, typeof part !== "string", action.bytes);
          const expireIn = this.#expireIn(action.expires);
          if (blob.length <= INLINE_MAX) {
            atomic.set(headerKey, encodeHeader(action.expires, blob), expiring(expireIn));
            size += blob.length;
          } else {
            const id = staged?.bytes === action.bytes ? staged.id : crypto.randomUUID();
            const chunks = split(blob).map((value, i) => ({
              key: [...headerKey, id, i],
              value,
              expireIn,
            }));
            const bytes = chunks.reduce((sum, c) => sum + keySize(c.key) + c.value.length, 0);
            const fits = size + bytes <= MAX_COMMIT_BYTES && chunks.length < MAX_MUTATIONS;
            if (staged?.id !== id && fits) {
              for (const c of chunks) atomic.set(c.key, c.value, expiring(expireIn));
              count += chunks.length;
              size += bytes;
            } else if (staged?.id !== id) {
              // Too big for one commit: write the chunks first; no reader sees them
              // until the header that names their id is committed.
              await this.#discard(kv, staged?.keys);
              staged = { bytes: action.bytes, id, keys: chunks.map((c) => c.key) };
              await commitAll(kv, op, key, chunks);
            }
            const body = { count: chunks.length, size: blob.length, id };
            atomic.set(headerKey, encodeHeader(action.expires, body), expiring(expireIn));
          }
        }
        const old = current.header?.chunks;
        const later: Mutation[] = [];
        for (let i = 0; old && i < old.count; i++) {
          const chunkKey = [...headerKey, old.id, i];
          if (count < MAX_MUTATIONS && size + keySize(chunkKey) < MAX_COMMIT_BYTES) {
            atomic.delete(chunkKey);
            count++;
            size += keySize(chunkKey);
          } else later.push({ key: chunkKey });
        }
        if ((await commit(op, key, atomic)).ok) {
          committed = true;
          // Unreferenced since the header swap: readers of the old header retry.
          await commitAll(kv, op, key, later);
          return result;
        }
        if (attempt >= MAX_ATTEMPTS) {
          throw new CacheError(
            `Cannot ${op} key ${
              _describe(key)
            }: gave up after ${attempt} attempts that conflicted with concurrent writes`,
          );
        }
        await backoff(attempt);
      }
    } finally {
      if (!committed) await this.#discard(kv, staged?.keys);
    }
  }

  /** Deletes staged chunks no header refers to (best effort: `expireIn` reclaims the rest). */
  async #discard(kv: Deno.Kv, keys: Deno.KvKey[] | undefined): Promise<void> {
    if (!keys) return;
    await commitAll(kv, "discard", undefined, keys.map((key) => ({ key }))).catch(() => {});
  }
}
