/**
 * {@linkcode FileSystemCache}: entries as files in one directory, safe for
 * any number of processes sharing it.
 *
 * @module
 */
import { _describe, addDelta, CacheError, SerializationError } from "../cache.ts";
import { throwIfFailed } from "./_toolkit/batch.ts";
import { ByteCache, type CounterOp } from "./_base.ts";
import {
  CORRUPT,
  encodeEntry,
  expiryOf,
  HEADER_SIZE,
  isLive,
  payloadOf,
  storedKey,
  storedKeyLength,
  storesKey,
  verifyEntry,
} from "./filesystem/_format.ts";
import {
  DIRECTORY,
  entryName,
  EntryNames,
  MissProbe,
  readBytes,
  readLeading,
  removeFile,
  writeAtomic,
} from "./filesystem/_files.ts";
import { prepareDir } from "./filesystem/_cache_dir.ts";
import { LockTimeout, openLockFile, StripeLocks } from "./filesystem/_locks.ts";
import { type FileSystemCacheOptions, resolveOptions } from "./filesystem/_options.ts";
import { type HeaderHint, listDir, pruneEntries, removeOrphans } from "./filesystem/_prune.ts";

export type { FileSystemCacheOptions } from "./filesystem/_options.ts";

/**
 * A live entry: its value, or (when the serializer rejected intact bytes) the
 * `SerializationError` that methods needing the value throw.
 */
type Found = { value: unknown; expiry: number; error?: SerializationError };

/** `found`'s value; throws the serializer's error for a payload it rejected. */
function valueOf(found: Found | undefined): unknown {
  if (found?.error !== undefined) throw found.error;
  return found?.value;
}

/**
 * A cache of files in one directory, like Python cachelib's
 * `FileSystemCache`, but safe for several processes sharing the directory:
 * writes are atomic (temp file, then rename), `add` and `inc`/`dec` are
 * atomic across processes (per-key `flock`), the bound is derived from the
 * directory (no count file to drift), and an empty, truncated, foreign or
 * corrupt file (every entry carries a CRC-32 and its key's hash) reads as a
 * miss and is removed. A directory someone else can write to is refused
 * (unless `sharedDir`), symlinks, FIFOs and devices are never opened, and a
 * lock held by a stuck process is waited for at most `lockTimeout` ms.
 *
 * A file's name is the sha-256 of its key, so no key can name a path outside
 * the directory. Every `maxEntries / 10` writes the cache lists the directory
 * and, when it is nearly full, removes expired entries, then the oldest
 * writes. File operations are synchronous (a small read costs ~8 µs that
 * way, ~55 µs through the thread pool).
 *
 * @example Share a cache between runs of a script
 * ```ts
 * import { FileSystemCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await using cache = new FileSystemCache({ dir, maxEntries: 1000, defaultTtl: 3_600_000 });
 * await cache.set("report", { rows: 3 });
 * assert.deepEqual(await cache.get("report"), { rows: 3 });
 * assert.equal(await cache.inc("runs"), 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileSystemCache extends ByteCache {
  /** The directory holding the entries. */
  readonly dir: string;
  /** The bound on the number of entries; `0` = unbounded. */
  readonly maxEntries: number;
  #mode: number;
  #chmod: boolean;
  #now: () => number;
  #cap: number;
  #locks: StripeLocks;
  #tag = Math.random().toString(36).slice(2, 10);
  #seq = 0;
  /** Writes between two looks at the directory. */
  #interval: number;
  #sinceCheck: number;
  /** Whether this instance wrote since its last exact prune (close() then prunes). */
  #wrote = false;
  #hints = new Map<string, HeaderHint>();
  #names = new EntryNames();
  #probe = new MissProbe();

  /**
   * Opens (and creates when missing) the cache directory.
   *
   * @param options See {@linkcode FileSystemCacheOptions}.
   * @throws {TypeError} Neither or both of `dir` and `appName`, an unknown option, or a bad option.
   * @throws {CacheError} Not running on Deno, `appName` without `--allow-env`, or a directory
   * that cannot be created or written, or that someone else could write to.
   */
  constructor(options: FileSystemCacheOptions) {
    super({
      defaultTtl: options?.defaultTtl,
      serializer: options?.serializer,
      // getOrSet's stale entries follow the injected clock (resolveOptions checks it).
      now: typeof options?.now === "function" ? options.now : undefined,
    });
    if (typeof Deno === "undefined" || typeof Deno.openSync !== "function") {
      throw new CacheError(
        "Cannot create FileSystemCache: it needs Deno (it uses Deno's file APIs); " +
          "this runtime has no global Deno",
      );
    }
    const { dir, maxEntries, mode, now, sharedDir, lockTimeout, maxEntrySize } = resolveOptions(
      options,
    );
    this.dir = dir;
    this.maxEntries = maxEntries;
    this.#mode = mode;
    this.#chmod = (mode & 0o077) !== 0 && Deno.build.os !== "windows";
    this.#now = now;
    this.#cap = maxEntrySize;
    this.#interval = maxEntries === 0 ? 100 : Math.ceil(maxEntries / 10);
    this.#sinceCheck = this.#interval - 1; // the first write looks at the directory
    this.#locks = new StripeLocks(dir, mode, lockTimeout);
    let refused: string | undefined;
    try {
      refused = prepareDir(dir, sharedDir);
      if (refused === undefined) openLockFile(this.#locks.pathOf("0"), mode).close();
    } catch (cause) {
      throw new CacheError(
        `Cannot create FileSystemCache: directory ${JSON.stringify(dir)} is not writable: ${
          (cause as Error).message
        }`,
        { cause },
      );
    }
    if (refused !== undefined) {
      throw new CacheError(
        `Cannot create FileSystemCache: refusing directory ${JSON.stringify(dir)}: ${refused}`,
      );
    }
  }

  /** The `CacheError` for a failed file operation on `key`. */
  #error(op: string, key: string, what: string, path: string, cause: unknown): Error {
    if (
      cause instanceof CacheError || cause instanceof TypeError || cause instanceof RangeError
    ) {
      return cause;
    }
    let why = (cause as Error).message;
    if (cause instanceof LockTimeout) {
      why = `${why} (lockTimeout); a process holding it may be stuck`;
    } else if (cause instanceof Deno.errors.IsADirectory) {
      why = `a directory is at the entry path (the cache never removes a directory): ${why}`;
    } else if (cause instanceof Deno.errors.NotFound && !existsDir(this.dir)) {
      why = `the cache directory ${this.dir} no longer exists (removed under a live cache): ${why}`;
    }
    return new CacheError(`Cannot ${op} key ${_describe(key)}: cannot ${what} ${path}: ${why}`, {
      cause,
      op,
      key,
    });
  }

  /** Runs a file operation; a failure is a `CacheError` naming the key, the path and the cause. */
  #io<T>(op: string, key: string, what: string, path: string, fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      throw this.#error(op, key, what, path, cause);
    }
  }

  /**
   * The live entry in `bytes` (the file of entry `name`), or `undefined` when
   * expired or corrupt (any header field, the name or the checksum wrong). A
   * payload the serializer rejects under a valid header is present, carrying
   * the `SerializationError` (design.md, "one answer per question").
   */
  #judge(
    key: string,
    name: string,
    bytes: Uint8Array,
    now: number,
  ): Found | undefined | Promise<Found | undefined> {
    const expiry = verifyEntry(bytes, name);
    if (expiry === CORRUPT || !isLive(expiry, now) || !storesKey(bytes, key)) return undefined;
    let value: unknown;
    try {
      value = this._decode(key, payloadOf(bytes));
    } catch (error) {
      if (!(error instanceof SerializationError)) throw error;
      return { value: undefined, expiry, error };
    }
    // An asynchronous serializer: a rejection is present with its error too.
    if (value instanceof Promise) {
      return value.then((ready) => ({ value: ready, expiry }), (error) => {
        if (!(error instanceof SerializationError)) throw error;
        return { value: undefined, expiry, error };
      });
    }
    return { value, expiry };
  }

  /** Reads `key` without its lock; a dead file is removed (under the lock, if still dead). */
  #load(op: string, key: string): Found | undefined | Promise<Found | undefined> {
    const name = this.#names.of(key);
    const path = `${this.dir}/${name}`;
    if (this.#probe.absent(path)) return undefined;
    const bytes = this.#io(op, key, "read", path, () => readBytes(path, this.#cap));
    this.#probe.saw(bytes !== undefined);
    if (bytes === undefined || bytes === DIRECTORY) return undefined;
    const now = this.#now();
    const found = this.#judge(key, name, bytes, now);
    if (found instanceof Promise) {
      return found.then((entry) => entry ?? this.#removeDead(op, key, name, bytes, now));
    }
    if (found !== undefined) return found;
    return this.#removeDead(op, key, name, bytes, now);
  }

  /** Removes the dead file `bytes` of `key`, if it is still there (checked under the lock). */
  #removeDead(
    op: string,
    key: string,
    name: string,
    bytes: Uint8Array,
    now: number,
  ): Promise<undefined> {
    return this.#locked(op, key, false, "remove", (path) => {
      const again = readBytes(path, this.#cap);
      // An asynchronous serializer cannot judge inside the lock: the same bytes are as dead.
      const dead = again !== undefined && again !== DIRECTORY &&
        (this._syncSerializer
          ? this.#judge(key, name, again, now) === undefined
          : sameBytes(again, bytes));
      if (dead) removeFile(path);
      return undefined;
    });
  }

  /**
   * The read-modify-write of `add` and `inc` for an asynchronous serializer,
   * which cannot run inside the (synchronous) lock: read and decode outside
   * it, then `step` prepares the write, which runs under the lock only if the
   * file still holds the bytes read; otherwise everything runs again.
   */
  async #readThenWrite<R>(
    op: string,
    key: string,
    step: (found: Found | undefined, now: number) => Promise<(path: string) => R>,
  ): Promise<R> {
    const name = this.#names.of(key);
    const path = `${this.dir}/${name}`;
    for (;;) {
      const before = this.#io(op, key, "read", path, () => readBytes(path, this.#cap));
      const now = this.#now();
      const found = before === undefined ? undefined : await this.#judge(key, name, before, now);
      const write = await step(found, now);
      const done = await this.#locked(op, key, true, "write", (path) => {
        const again = this.#io(op, key, "read", path, () => readBytes(path, this.#cap));
        return sameBytes(again, before) ? { result: write(path) } : undefined;
      });
      if (done !== undefined) return done.result;
    }
  }

  /** Writes an entry file (or removes the key when it is too large); call with the lock held. */
  #write(
    op: string,
    key: string,
    path: string,
    expiry: number,
    payload: Uint8Array,
  ): boolean {
    const name = this.#names.of(key);
    if (HEADER_SIZE + key.length * 2 + payload.length > this.#cap) {
      this.#io(op, key, "remove", path, () => removeFile(path));
      return false;
    }
    const temp = `${path}.${this.#tag}${(this.#seq++).toString(36)}.tmp`;
    const bytes = encodeEntry(name, expiry, payload, key);
    this.#io(op, key, "write", path, () => writeAtomic(path, temp, bytes, this.#mode, this.#chmod));
    this.#wrote = true;
    return true;
  }

  #expiry(ttl: number, now: number): number {
    return ttl === 0 ? 0 : now + ttl;
  }

  /** Every `#interval` writes: look at the directory, clean orphans, keep the bound. */
  async #maintain(op: string, key: string): Promise<void> {
    if (++this.#sinceCheck < this.#interval) return;
    this.#sinceCheck = 0;
    try {
      const { entries, temps } = listDir(this.dir);
      if (temps.length > 0) removeOrphans(this.dir, temps, Date.now());
      if (this.maxEntries === 0) {
        this.#interval = Math.max(100, Math.ceil(entries.length / 10));
        return;
      }
      const target = this.maxEntries - this.#interval; // room for the writes until the next look
      if (entries.length > target) {
        await this.#pruneTo(entries, target);
      }
    } catch (cause) {
      throw this.#error(op, key, "prune", this.dir, cause);
    }
  }

  /**
   * Runs `fn` on key's file path with the key's lock held (after the periodic
   * maintenance when `write`); waits for the lock at most `lockTimeout` ms.
   */
  async #locked<T>(
    op: string,
    key: string,
    write: boolean,
    what: string,
    fn: (path: string) => T,
  ): Promise<T> {
    const name = this.#names.of(key);
    if (write) await this.#maintain(op, key);
    const path = `${this.dir}/${name}`;
    try {
      return await this.#locks.run(name, () => fn(path));
    } catch (cause) {
      throw this.#error(op, key, what, cause instanceof LockTimeout ? cause.path : path, cause);
    }
  }

  #set(op: string, key: string, value: unknown, ttl: number): Promise<boolean> {
    const payload = this._encode(op, key, value);
    if (payload instanceof Promise) {
      return payload.then((ready) =>
        this.#locked(op, key, true, "write", (path) => {
          return this.#write(op, key, path, this.#expiry(ttl, this.#now()), ready);
        })
      );
    }
    return this.#locked(op, key, true, "write", (path) => {
      return this.#write(op, key, path, this.#expiry(ttl, this.#now()), payload);
    });
  }

  /** Reads one key: synchronously, unless a dead file must be removed under its lock. */
  protected _get(key: string): unknown {
    const found = this.#load("get", key);
    return found instanceof Promise ? found.then(valueOf) : valueOf(found);
  }

  /** Reads several keys, one file each. */
  protected override async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const values: unknown[] = [];
    for (const key of keys) values.push(valueOf(await this.#load("getMany", key)));
    return values;
  }

  /** Writes one entry; `false` (and the key removed) when it exceeds `maxEntrySize`. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#set("set", key, value, ttl);
  }

  /**
   * Writes several entries, one after another. A key that fails does not stop
   * the others; a lock that timed out fails the rest of its stripe at once
   * (one `lockTimeout` per stuck lock, not per key). Any failure ends in a
   * `CacheBatchError` whose `stored` lists the keys written.
   */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const stored: string[] = [];
    const batch = new BatchFailures(this.#locks);
    for (const [key, value] of entries) {
      const name = this.#names.of(key);
      if (batch.skip(key, name)) continue;
      try {
        if (await this.#set("setMany", key, value, ttl)) stored.push(key);
        batch.done(key);
      } catch (error) {
        batch.failed(key, name, error);
      }
    }
    batch.throwIfAny("setMany", "stored", stored);
    return stored;
  }

  /** Removes several keys, continuing past failures like `_setMany`. */
  protected override async _deleteMany(keys: readonly string[]): Promise<string[]> {
    const deleted: string[] = [];
    const batch = new BatchFailures(this.#locks);
    const distinct = [...new Set(keys)];
    for (const key of distinct) {
      const name = this.#names.of(key);
      if (batch.skip(key, name)) continue;
      try {
        if (await this.#delete("deleteMany", key)) deleted.push(key);
        batch.done(key);
      } catch (error) {
        batch.failed(key, name, error);
      }
    }
    batch.throwIfAny("deleteMany", "deleted", deleted);
    return deleted;
  }

  /** Writes one entry when the key holds no live one, atomically across processes. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const payload = this._encode("add", key, value);
    if (payload instanceof Promise || !this._syncSerializer) {
      return Promise.resolve(payload).then((ready) =>
        this.#readThenWrite(
          "add",
          key,
          (found, now) =>
            Promise.resolve((path: string) =>
              found === undefined && this.#write("add", key, path, this.#expiry(ttl, now), ready)
            ),
        )
      );
    }
    const name = this.#names.of(key);
    return this.#locked("add", key, true, "write", (path) => {
      const now = this.#now();
      const existing = this.#io("add", key, "read", path, () => readBytes(path, this.#cap));
      if (existing !== undefined && this.#judge(key, name, existing, now) !== undefined) {
        return false;
      }
      return this.#write("add", key, path, this.#expiry(ttl, now), payload);
    });
  }

  /**
   * `add` over an entry no read returns (a stale getOrSet envelope, an invalidated tagged
   * entry): read and judged outside the key's lock, then written under it only if the file
   * still holds the bytes judged, so of concurrent `add`s over one such entry one stores.
   */
  protected override async _addOverDead(
    key: string,
    value: unknown,
    ttl: number,
    dead: (stored: unknown) => boolean | Promise<boolean>,
    ifAbsent = true,
  ): Promise<boolean> {
    let payload = this._encode("add", key, value);
    if (payload instanceof Promise) payload = await payload;
    const ready = payload;
    return await this.#readThenWrite("add", key, async (found, now) => {
      const free = found === undefined
        ? ifAbsent
        : found.error === undefined && await dead(found.value);
      return (path: string) => free && this.#write("add", key, path, this.#expiry(ttl, now), ready);
    });
  }

  /** Removes one key; `true` when it held a live entry (read and verified like `get`). */
  protected _delete(key: string): Promise<boolean> {
    return this.#delete("delete", key);
  }

  #delete(op: string, key: string): Promise<boolean> {
    const name = this.#names.of(key);
    return this.#locked(op, key, false, "remove", (path) => {
      const bytes = readBytes(path, this.#cap);
      if (bytes === undefined || bytes === DIRECTORY || !removeFile(path)) return false;
      const found = this.#judge(key, name, bytes, this.#now());
      return found instanceof Promise
        ? found.then((entry) => entry !== undefined)
        : found !== undefined;
    }) as Promise<boolean>;
  }

  /** Whether the key holds a live entry: the same read and checks as `get`. */
  protected _has(key: string): boolean | Promise<boolean> {
    const found = this.#load("has", key);
    return found instanceof Promise
      ? found.then((entry) => entry !== undefined)
      : found !== undefined;
  }

  /** Adds `delta` under the key's lock, so concurrent processes never lose a count. */
  protected _addToCounter(key: string, delta: number, ttl: number, op: CounterOp): Promise<number> {
    if (!this._syncSerializer) {
      return this.#readThenWrite(op, key, async (found, now) => {
        const next = addDelta(op, key, found === undefined ? 0 : valueOf(found), delta);
        const expiry = found === undefined ? this.#expiry(ttl, now) : found.expiry;
        const payload = await this._encode(op, key, next);
        return (path) => {
          this.#write(op, key, path, expiry, payload);
          return next;
        };
      });
    }
    const name = this.#names.of(key);
    return this.#locked(op, key, true, "write", (path) => {
      const now = this.#now();
      const bytes = this.#io(op, key, "read", path, () => readBytes(path, this.#cap));
      const found = bytes === undefined
        ? undefined
        : this.#judge(key, name, bytes, now) as Found | undefined;
      const next = addDelta(op, key, found === undefined ? 0 : valueOf(found), delta);
      const expiry = found === undefined ? this.#expiry(ttl, now) : found.expiry;
      this.#write(op, key, path, expiry, this._encode(op, key, next) as Uint8Array);
      return next;
    });
  }

  /** The directory, resolved: every instance on it shares its entries. */
  protected override _storeId(): string {
    let dir = this.dir;
    try {
      dir = Deno.realPathSync(dir);
    } catch {
      // removed under a live cache: the name it was opened with
    }
    return `filesystem:${dir}`;
  }

  /** Removes every entry file (and orphaned temp files); other files are left alone. */
  protected _clear(): Promise<boolean> {
    try {
      const { entries, temps } = listDir(this.dir);
      for (const name of entries) removeFile(`${this.dir}/${name}`);
      removeOrphans(this.dir, temps, Date.now());
      this.#hints.clear();
    } catch (cause) {
      throw new CacheError(`Cannot clear ${this.dir}: ${(cause as Error).message}`, {
        cause,
        op: "clear",
      });
    }
    return Promise.resolve(true);
  }

  /** Removes dead entries and evicts down to `target` entries, counting the evictions. */
  async #pruneTo(
    entries: string[],
    target: number,
  ): Promise<{ dead: number; evicted: number }> {
    const now = this.#now();
    const result = await pruneEntries(
      this.dir,
      entries,
      this.#locks,
      now,
      target,
      this.#cap,
      this.#hints,
    );
    this._stats.evictions += result.evicted;
    return result;
  }

  /** The exact prune, without the open check. */
  async #prune(): Promise<number> {
    try {
      this.#sinceCheck = 0;
      const { entries, temps } = listDir(this.dir);
      const orphans = removeOrphans(this.dir, temps, Date.now());
      const target = this.maxEntries === 0 ? Infinity : this.maxEntries;
      const { dead, evicted } = await this.#pruneTo(entries, target);
      this.#wrote = false;
      return orphans + dead + evicted;
    } catch (error) {
      if (error instanceof CacheError) throw error;
      throw new CacheError(`Cannot prune ${this.dir}: ${(error as Error).message}`, {
        cause: error,
        op: "prune",
      });
    }
  }

  /**
   * Removes expired and corrupt entries and orphaned temp files now, then the
   * oldest entries (by last write) until at most `maxEntries` remain. Writes
   * do this on their own every `maxEntries / 10` writes, and `close()` does
   * it when this instance wrote; call it for an exact bound at once (several
   * processes writing at once can each add up to `maxEntries / 10` entries
   * between two looks).
   *
   * @returns How many files were removed.
   */
  async prune(): Promise<number> {
    this._checkOpen("prune");
    return await this.#prune();
  }

  // TTL operations (issue 16).

  /**
   * Reads the entry file (no lock, no decoding): the remaining ttl of a live, intact entry.
   * An entry whose payload the serializer rejects still has a ttl, as it is still present.
   */
  protected override _ttl(key: string): number | undefined {
    const name = this.#names.of(key);
    const path = `${this.dir}/${name}`;
    const bytes = this.#io("ttl", key, "read", path, () => readBytes(path, this.#cap));
    if (bytes === undefined) return undefined;
    const expiry = verifyEntry(bytes, name);
    const now = this.#now();
    if (expiry === CORRUPT || !isLive(expiry, now)) return undefined;
    return expiry === 0 ? 0 : expiry - now;
  }

  /** Rewrites a live entry with the new expiry under the key's lock (format 2 becomes 3). */
  protected override _touch(key: string, ttl: number): Promise<boolean> {
    const name = this.#names.of(key);
    return this.#locked("touch", key, true, "write", (path) => {
      const now = this.#now();
      const bytes = this.#io("touch", key, "read", path, () => readBytes(path, this.#cap));
      if (bytes === undefined) return false;
      const expiry = verifyEntry(bytes, name);
      if (expiry === CORRUPT || !isLive(expiry, now)) return false;
      return this.#write("touch", key, path, this.#expiry(ttl, now), payloadOf(bytes));
    });
  }

  /**
   * Lists the directory and reads each entry's header and stored key (not its payload):
   * live entries whose key hashes to their file name. Format 2 entries store no key and
   * are not listed until their next write; lock, temp and foreign files never are.
   */
  protected override *_keys(prefix: string): Generator<string> {
    let names: string[];
    try {
      names = listDir(this.dir).entries;
    } catch (cause) {
      throw new CacheError(`Cannot keys: cannot list ${this.dir}: ${(cause as Error).message}`, {
        cause,
        op: "keys",
      });
    }
    for (const name of names) {
      const path = `${this.dir}/${name}`;
      let read;
      try {
        read = readLeading(path, HEADER_SIZE, this.#cap, storedKeyLength);
      } catch (cause) {
        throw new CacheError(`Cannot keys: cannot read ${path}: ${(cause as Error).message}`, {
          cause,
          op: "keys",
        });
      }
      if (read === undefined) continue; // removed since the listing
      const expiry = expiryOf(read.header, read.size, name);
      if (expiry === CORRUPT || !isLive(expiry, this.#now())) continue;
      const key = storedKey(read.header, read.rest);
      if (key !== undefined && key.startsWith(prefix) && entryName(key) === name) yield key;
    }
  }

  /**
   * Prunes to the exact bound when this instance wrote since its last exact
   * prune (so a directory at rest is within `maxEntries`), then closes the
   * lock files. A directory removed meanwhile is not an error here.
   */
  protected override async _close(): Promise<void> {
    try {
      if (this.#wrote && this.maxEntries > 0 && existsDir(this.dir)) await this.#prune();
    } finally {
      this.#locks.close();
    }
  }
}

/** The outcome of each key of a `setMany`/`deleteMany`, and the lock stripes that timed out. */
class BatchFailures {
  #locks: StripeLocks;
  #keys: string[] = [];
  #results: PromiseSettledResult<unknown>[] = [];
  #stuck = new Set<string>();

  constructor(locks: StripeLocks) {
    this.#locks = locks;
  }

  /** Records that `key` was done. */
  done(key: string): void {
    this.#keys.push(key);
    this.#results.push({ status: "fulfilled", value: true });
  }

  /**
   * `true` when the lock of `key` already timed out in this batch: the key then fails at
   * once with that lock's error.
   */
  skip(key: string, name: string): boolean {
    const path = this.#locks.pathOf(name);
    if (!this.#stuck.has(path)) return false;
    const first = this.#results.find((r) =>
      r.status === "rejected" && (r.reason as CacheError).cause instanceof LockTimeout &&
      ((r.reason as CacheError).cause as LockTimeout).path === path
    ) as PromiseRejectedResult;
    this.failed(key, name, first.reason);
    return true;
  }

  /** Records the failure of `key`. */
  failed(key: string, name: string, error: unknown): void {
    this.#keys.push(key);
    this.#results.push({ status: "rejected", reason: error });
    if (error instanceof CacheError && error.cause instanceof LockTimeout) {
      this.#stuck.add(this.#locks.pathOf(name));
    }
  }

  /**
   * Throws when any key failed: the failure itself when nothing was done, else a
   * `CacheBatchError` saying what was done (`throwIfFailed`, as memcached's batches).
   */
  throwIfAny(op: string, field: "stored" | "deleted", done: string[]): void {
    throwIfFailed(op, "keys", this.#results, this.#keys, field, done);
  }
}

/** Whether two reads of a file found the same bytes (both `undefined`: both found no file). */
function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `dir` is (still) a directory. */
function existsDir(dir: string): boolean {
  try {
    return Deno.statSync(dir).isDirectory;
  } catch {
    return false;
  }
}
