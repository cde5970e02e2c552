/**
 * {@linkcode FileSystemCache}: entries as files in one directory, safe for
 * any number of processes sharing it.
 *
 * @module
 */
import { _describe, addDelta, CacheError, checkKey } from "../cache.ts";
import { BaseCache } from "./_base.ts";
import {
  CORRUPT,
  encodeEntry,
  expiryOf,
  HEADER_SIZE,
  isLive,
  readExpiry,
} from "./filesystem/format.ts";
import { EntryNames, MissProbe, readBytes, removeFile, writeAtomic } from "./filesystem/files.ts";
import { StripeLocks } from "./filesystem/locks.ts";
import { type FileSystemCacheOptions, resolveOptions } from "./filesystem/options.ts";
import { type HeaderHint, listDir, pruneEntries, removeOrphans } from "./filesystem/prune.ts";

export type { FileSystemCacheOptions } from "./filesystem/options.ts";

type Found = { value: unknown; expiry: number };

/**
 * A cache of files in one directory, like Python cachelib's
 * `FileSystemCache`, but safe for several processes sharing the directory:
 * writes are atomic (temp file, then rename), `add` and `inc`/`dec` are
 * atomic across processes (per-key `flock`), the bound is derived from the
 * directory (no count file to drift), and an empty, truncated, foreign or
 * corrupt file reads as a miss and is removed.
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
export class FileSystemCache extends BaseCache {
  /** The directory holding the entries. */
  readonly dir: string;
  /** The bound on the number of entries; `0` = unbounded. */
  readonly maxEntries: number;
  #mode: number;
  #chmod: boolean;
  #now: () => number;
  #locks: StripeLocks;
  #tag = Math.random().toString(36).slice(2, 10);
  #seq = 0;
  /** Writes between two looks at the directory. */
  #interval: number;
  #sinceCheck: number;
  #hints = new Map<string, HeaderHint>();
  #names = new EntryNames();
  #probe = new MissProbe();

  /**
   * Opens (and creates when missing) the cache directory.
   *
   * @param options See {@linkcode FileSystemCacheOptions}.
   * @throws {TypeError} Neither or both of `dir` and `appName`, or a bad option.
   * @throws {CacheError} The directory cannot be created or written.
   */
  constructor(options: FileSystemCacheOptions) {
    super({ defaultTtl: options?.defaultTtl, serializer: options?.serializer });
    const { dir, maxEntries, mode, now } = resolveOptions(options);
    this.dir = dir;
    this.maxEntries = maxEntries;
    this.#mode = mode;
    this.#chmod = (mode & 0o077) !== 0 && Deno.build.os !== "windows";
    this.#now = now;
    this.#interval = maxEntries === 0 ? 100 : Math.ceil(maxEntries / 10);
    this.#sinceCheck = this.#interval - 1; // the first write looks at the directory
    this.#locks = new StripeLocks(dir, mode);
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      Deno.openSync(this.#locks.pathOf("0"), { read: true, write: true, create: true, mode })
        .close();
    } catch (cause) {
      throw new CacheError(
        `Cannot create cache: directory ${JSON.stringify(dir)} is not writable: ${
          (cause as Error).message
        }`,
        { cause },
      );
    }
  }

  /** Runs a file operation; a failure is a `CacheError` naming the key, the path and the cause. */
  #io<T>(op: string, key: string, what: string, path: string, fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      if (
        cause instanceof CacheError || cause instanceof TypeError || cause instanceof RangeError
      ) {
        throw cause;
      }
      throw new CacheError(
        `Cannot ${op} key ${_describe(key)}: cannot ${what} ${path}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /** The live value in `bytes`, or `undefined` when expired, corrupt or undecodable. */
  #judge(key: string, bytes: Uint8Array, now: number): Found | undefined {
    const expiry = expiryOf(bytes, bytes.length);
    if (expiry === CORRUPT || !isLive(expiry, now)) return undefined;
    try {
      return { value: this._decode(key, bytes.subarray(HEADER_SIZE)), expiry };
    } catch {
      return undefined; // a foreign payload under a valid header: a miss like any corrupt file
    }
  }

  /** Reads `key` without its lock; a dead file is removed (under the lock, if still dead). */
  #load(op: string, key: string): Found | undefined {
    const name = this.#names.of(key);
    const path = `${this.dir}/${name}`;
    if (this.#probe.absent(path)) return undefined;
    const bytes = this.#io(op, key, "read", path, () => readBytes(path));
    this.#probe.saw(bytes !== undefined);
    if (bytes === undefined) return undefined;
    const now = this.#now();
    const found = this.#judge(key, bytes, now);
    if (found === undefined) {
      this.#io(op, key, "remove", path, () =>
        this.#locks.run(name, () => {
          const again = readBytes(path);
          if (again !== undefined && this.#judge(key, again, now) === undefined) removeFile(path);
        }));
    }
    return found;
  }

  /** Writes an entry file; call with the key's lock held. */
  #write(op: string, key: string, path: string, expiry: number, payload: Uint8Array): void {
    const temp = `${path}.${this.#tag}${(this.#seq++).toString(36)}.tmp`;
    const bytes = encodeEntry(expiry, payload);
    this.#io(op, key, "write", path, () => writeAtomic(path, temp, bytes, this.#mode, this.#chmod));
  }

  #expiry(ttl: number, now: number): number {
    return ttl === 0 ? 0 : now + ttl;
  }

  /** Every `#interval` writes: look at the directory, clean orphans, keep the bound. */
  #maintain(op: string, key: string): void {
    if (++this.#sinceCheck < this.#interval) return;
    this.#sinceCheck = 0;
    this.#io(op, key, "prune", this.dir, () => {
      const { entries, temps } = listDir(this.dir);
      if (temps.length > 0) removeOrphans(this.dir, temps, Date.now());
      if (this.maxEntries === 0) {
        this.#interval = Math.max(100, Math.ceil(entries.length / 10));
        return;
      }
      const target = this.maxEntries - this.#interval; // room for the writes until the next look
      if (entries.length > target) {
        const now = this.#now();
        const { evicted } = pruneEntries(this.dir, entries, this.#locks, now, target, this.#hints);
        this._stats.evictions += evicted;
      }
    });
  }

  /** Runs `fn` on key's file path with the key's lock held, after the periodic maintenance. */
  #locked<T>(op: string, key: string, write: boolean, fn: (path: string) => T): T {
    const name = this.#names.of(key);
    if (write) this.#maintain(op, key);
    const path = `${this.dir}/${name}`;
    return this.#locks.run(name, () => fn(path));
  }

  #set(op: string, key: string, value: unknown, ttl: number): boolean {
    const payload = this._encode(op, key, value);
    this.#locked(op, key, true, (path) => {
      this.#write(op, key, path, this.#expiry(ttl, this.#now()), payload);
    });
    return true;
  }

  /** The value under `key`, or `undefined`; one synchronous file read, no extra promise hops. */
  override get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      checkKey("get", key);
      this._checkOpen("get", key);
      const value = this.#load("get", key)?.value;
      if (value === undefined) this._stats.misses++;
      else this._stats.hits++;
      return Promise.resolve(value as T | undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Reads one key. */
  protected _get(key: string): Promise<unknown> {
    return Promise.resolve(this.#load("get", key)?.value);
  }

  /** Reads several keys, one file each. */
  protected override _getMany(keys: readonly string[]): Promise<unknown[]> {
    return Promise.resolve(keys.map((key) => this.#load("getMany", key)?.value));
  }

  /** Writes one entry. */
  protected _set(key: string, value: unknown, ttl: number): Promise<boolean> {
    return Promise.resolve(this.#set("set", key, value, ttl));
  }

  /** Writes several entries. */
  protected override _setMany(entries: [string, unknown][], ttl: number): Promise<string[]> {
    return Promise.resolve(
      entries.map(([key, value]) => (this.#set("setMany", key, value, ttl), key)),
    );
  }

  /** Writes one entry when the key holds no live one, atomically across processes. */
  protected _add(key: string, value: unknown, ttl: number): Promise<boolean> {
    const payload = this._encode("add", key, value);
    return Promise.resolve(this.#locked("add", key, true, (path) => {
      const now = this.#now();
      const existing = this.#io("add", key, "read", path, () => readBytes(path));
      if (existing !== undefined && this.#judge(key, existing, now) !== undefined) return false;
      this.#write("add", key, path, this.#expiry(ttl, now), payload);
      return true;
    }));
  }

  /** Removes one key; `true` when it held a live entry (judged by its header). */
  protected _delete(key: string): Promise<boolean> {
    return Promise.resolve(
      this.#locked("delete", key, false, (path) =>
        this.#io("delete", key, "remove", path, () => {
          const expiry = readExpiry(path);
          if (expiry === undefined || !removeFile(path)) return false;
          return expiry !== CORRUPT && isLive(expiry, this.#now());
        })),
    );
  }

  /** Whether the key holds a live entry (reads only the header). */
  protected _has(key: string): Promise<boolean> {
    const path = `${this.dir}/${this.#names.of(key)}`;
    if (this.#probe.absent(path)) return Promise.resolve(false);
    const expiry = this.#io("has", key, "read", path, () => readExpiry(path));
    this.#probe.saw(expiry !== undefined);
    if (expiry === undefined) return Promise.resolve(false);
    if (expiry !== CORRUPT && isLive(expiry, this.#now())) return Promise.resolve(true);
    this.#load("has", key); // removes the dead file
    return Promise.resolve(false);
  }

  /** Adds `delta` under the key's lock, so concurrent processes never lose a count. */
  protected _inc(key: string, delta: number, ttl: number, op: "inc" | "dec"): Promise<number> {
    return Promise.resolve(this.#locked(op, key, true, (path) => {
      const now = this.#now();
      const bytes = this.#io(op, key, "read", path, () => readBytes(path));
      const found = bytes === undefined ? undefined : this.#judge(key, bytes, now);
      const next = addDelta(op, key, found === undefined ? 0 : found.value, delta);
      const expiry = found === undefined ? this.#expiry(ttl, now) : found.expiry;
      this.#write(op, key, path, expiry, this._encode(op, key, next));
      return next;
    }));
  }

  /** Removes every entry file (and orphaned temp files); other files are left alone. */
  protected _clear(): Promise<boolean> {
    try {
      const { entries, temps } = listDir(this.dir);
      for (const name of entries) removeFile(`${this.dir}/${name}`);
      removeOrphans(this.dir, temps, Date.now());
      this.#hints.clear();
    } catch (cause) {
      throw new CacheError(`Cannot clear ${this.dir}: ${(cause as Error).message}`, { cause });
    }
    return Promise.resolve(true);
  }

  /**
   * Removes expired and corrupt entries and orphaned temp files now, then the
   * oldest entries (by last write) until at most `maxEntries` remain. Writes
   * do this on their own every `maxEntries / 10` writes; call it for an exact
   * bound at once (several processes writing at once can each add up to
   * `maxEntries / 10` entries between two looks).
   *
   * @returns How many files were removed.
   */
  prune(): Promise<number> {
    try {
      this._checkOpen("prune");
      this.#sinceCheck = 0;
      const { entries, temps } = listDir(this.dir);
      const orphans = removeOrphans(this.dir, temps, Date.now());
      const target = this.maxEntries === 0 ? Infinity : this.maxEntries;
      const now = this.#now();
      const { dead, evicted } = pruneEntries(
        this.dir,
        entries,
        this.#locks,
        now,
        target,
        this.#hints,
      );
      this._stats.evictions += evicted;
      return Promise.resolve(orphans + dead + evicted);
    } catch (error) {
      if (error instanceof CacheError) return Promise.reject(error);
      return Promise.reject(
        new CacheError(`Cannot prune ${this.dir}: ${(error as Error).message}`, { cause: error }),
      );
    }
  }

  /** Closes the lock files. */
  protected override _close(): Promise<void> {
    this.#locks.close();
    return Promise.resolve();
  }
}
