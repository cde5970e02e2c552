/**
 * {@linkcode FileSystemCache}: entries as files in one directory, safe for
 * any number of processes sharing it.
 *
 * @module
 */
import { _describe, addDelta, CacheError } from "../cache.ts";
import { ByteCache, type CounterOp } from "./_base.ts";
import { CORRUPT, encodeEntry, HEADER_SIZE, isLive, verifyEntry } from "./filesystem/_format.ts";
import { EntryNames, MissProbe, readBytes, removeFile, writeAtomic } from "./filesystem/_files.ts";
import { prepareDir } from "./filesystem/_cache_dir.ts";
import { LockTimeout, openLockFile, StripeLocks } from "./filesystem/_locks.ts";
import { type FileSystemCacheOptions, resolveOptions } from "./filesystem/_options.ts";
import { type HeaderHint, listDir, pruneEntries, removeOrphans } from "./filesystem/_prune.ts";

export type { FileSystemCacheOptions } from "./filesystem/_options.ts";

type Found = { value: unknown; expiry: number };

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
   * The live value in `bytes` (the file of entry `name`), or `undefined` when
   * expired, corrupt (any header field, the name or the checksum wrong) or undecodable.
   */
  #judge(key: string, name: string, bytes: Uint8Array, now: number): Found | undefined {
    const expiry = verifyEntry(bytes, name);
    if (expiry === CORRUPT || !isLive(expiry, now)) return undefined;
    try {
      return { value: this._decode(key, bytes.subarray(HEADER_SIZE)), expiry };
    } catch {
      return undefined; // a foreign payload under a valid header: a miss like any corrupt file
    }
  }

  /** Reads `key` without its lock; a dead file is removed (under the lock, if still dead). */
  #load(op: string, key: string): Found | undefined | Promise<Found | undefined> {
    const name = this.#names.of(key);
    const path = `${this.dir}/${name}`;
    if (this.#probe.absent(path)) return undefined;
    const bytes = this.#io(op, key, "read", path, () => readBytes(path, this.#cap));
    this.#probe.saw(bytes !== undefined);
    if (bytes === undefined) return undefined;
    const now = this.#now();
    const found = this.#judge(key, name, bytes, now);
    if (found !== undefined) return found;
    return this.#locked(op, key, false, "remove", () => {
      const again = readBytes(path, this.#cap);
      if (again !== undefined && this.#judge(key, name, again, now) === undefined) {
        removeFile(path);
      }
      return undefined;
    });
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
    if (HEADER_SIZE + payload.length > this.#cap) {
      this.#io(op, key, "remove", path, () => removeFile(path));
      return false;
    }
    const temp = `${path}.${this.#tag}${(this.#seq++).toString(36)}.tmp`;
    const bytes = encodeEntry(name, expiry, payload);
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
    return this.#locked(op, key, true, "write", (path) => {
      return this.#write(op, key, path, this.#expiry(ttl, this.#now()), payload);
    });
  }

  /** Reads one key: synchronously, unless a dead file must be removed under its lock. */
  protected _get(key: string): unknown {
    const found = this.#load("get", key);
    return found instanceof Promise ? found.then((entry) => entry?.value) : found?.value;
  }

  /** Reads several keys, one file each. */
  protected override async _getMany(keys: readonly string[]): Promise<unknown[]> {
    const values: unknown[] = [];
    for (const key of keys) values.push((await this.#load("getMany", key))?.value);
    return values;
  }

  /** Writes one entry; `false` (and the key removed) when it exceeds `maxEntrySize`. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return this.#set("set", key, value, ttl);
  }

  /** Writes several entries. */
  protected override async _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    const stored: string[] = [];
    for (const [key, value] of entries) {
      if (await this.#set("setMany", key, value, ttl)) stored.push(key);
    }
    return stored;
  }

  /** Writes one entry when the key holds no live one, atomically across processes. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const payload = this._encode("add", key, value);
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

  /** Removes one key; `true` when it held a live entry (read and verified like `get`). */
  protected _delete(key: string): Promise<boolean> {
    const name = this.#names.of(key);
    return this.#locked("delete", key, false, "remove", (path) => {
      const bytes = readBytes(path, this.#cap);
      if (bytes === undefined || !removeFile(path)) return false;
      return this.#judge(key, name, bytes, this.#now()) !== undefined;
    });
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
    const name = this.#names.of(key);
    return this.#locked(op, key, true, "write", (path) => {
      const now = this.#now();
      const bytes = this.#io(op, key, "read", path, () => readBytes(path, this.#cap));
      const found = bytes === undefined ? undefined : this.#judge(key, name, bytes, now);
      const next = addDelta(op, key, found === undefined ? 0 : found.value, delta);
      const expiry = found === undefined ? this.#expiry(ttl, now) : found.expiry;
      this.#write(op, key, path, expiry, this._encode(op, key, next));
      return next;
    });
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

/** Whether `dir` is (still) a directory. */
function existsDir(dir: string): boolean {
  try {
    return Deno.statSync(dir).isDirectory;
  } catch {
    return false;
  }
}
