/**
 * The file operations of {@linkcode FileSystemCache}: naming, reading,
 * atomic writing and removing. All synchronous: on a local disk a small read
 * costs ~8 µs with `Deno.readFileSync` and ~55 µs with `Deno.readFile`, whose
 * extra cost is the hop to the thread pool, and a fully synchronous critical
 * section is what lets a per-key lock be held for one write and no longer.
 *
 * @module
 */
import { hash } from "node:crypto";
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";

/**
 * The file name of `key`: the sha-256 of its UTF-8 bytes, in hex. A key with
 * a lone surrogate has no UTF-8 form (it would collide with the same key
 * holding U+FFFD), so it is hashed as 0xFF then its UTF-16LE code units; 0xFF
 * never occurs in UTF-8, so the two kinds of key cannot collide.
 */
export function entryName(key: string): string {
  if (key.isWellFormed()) return hash("sha256", key, "hex");
  return hash("sha256", Buffer.concat([Buffer.of(0xff), Buffer.from(key, "utf16le")]), "hex");
}

/**
 * {@linkcode entryName} with a memo of recent short keys: a `Map` lookup costs
 * ~50 ns, a sha-256 ~1 µs, about a tenth of a whole `get`. The memo holds at
 * most 4096 keys of at most 256 characters and starts over when full.
 */
export class EntryNames {
  #memo = new Map<string, string>();

  /** The file name of `key`. */
  of(key: string): string {
    let name = this.#memo.get(key);
    if (name === undefined) {
      name = entryName(key);
      if (key.length <= 256) {
        if (this.#memo.size >= 4096) this.#memo.clear();
        this.#memo.set(key, name);
      }
    }
    return name;
  }
}

const NOTHING = new Uint8Array(0);

/**
 * What {@linkcode readBytes} answers for a directory at an entry path: empty
 * (no entry is), and a distinct object so callers can tell it from a corrupt
 * file. A directory is never the cache's (it writes only files), so it is a
 * miss that is never removed, like the directories {@linkcode listDir} skips.
 */
export const DIRECTORY: Uint8Array = new Uint8Array(0);

/**
 * Opens the regular file at `path` without following a symlink and without
 * blocking: `lstat` first (a symlink, FIFO, device, socket or directory is
 * never opened), then open, then check that the open file is the one
 * `lstat` saw (same device and inode). Deno has no `O_NOFOLLOW`; this is its
 * equivalent as long as nobody else can write to the directory, which
 * {@linkcode FileSystemCache} checks when it opens it.
 *
 * @returns The open file and its size, `undefined` when nothing is at
 * `path`, `"directory"` for a directory, or `null` when something else is
 * there that must not be read (not a regular file, larger than `cap`, or
 * swapped between `lstat` and open).
 */
function openRegular(
  path: string,
  cap: number,
): { file: Deno.FsFile; size: number } | null | undefined | "directory" {
  const seen = unlessMissing(() => Deno.lstatSync(path));
  if (seen === undefined) return undefined;
  if (seen.isDirectory) return "directory";
  if (!seen.isFile || seen.size > cap) return null;
  const file = unlessMissing(() => Deno.openSync(path));
  if (file === undefined) return undefined;
  try {
    const info = file.statSync();
    if (info.ino !== seen.ino || info.dev !== seen.dev || !info.isFile || info.size > cap) {
      file.close();
      return null;
    }
    return { file, size: info.size };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Reads up to `into.length` bytes; fewer when the file is shorter. */
function readInto(file: Deno.FsFile, into: Uint8Array): Uint8Array {
  let read = 0;
  while (read < into.length) {
    const n = file.readSync(into.subarray(read));
    if (n === null || n === 0) break;
    read += n;
  }
  return into.subarray(0, read);
}

/**
 * The bytes of the entry file at `path`: `undefined` when it does not exist,
 * an empty array (which no entry is) when it is not a regular file of at most
 * `cap` bytes, so the caller treats it like any corrupt file, and
 * {@linkcode DIRECTORY} for a directory. Never follows a symlink, never opens
 * a FIFO or device, never reads more than `cap` bytes.
 */
export function readBytes(path: string, cap: number): Uint8Array | undefined {
  const opened = openRegular(path, cap);
  if (opened === "directory") return DIRECTORY;
  if (opened == null) return opened === null ? NOTHING : undefined;
  try {
    return readInto(opened.file, new Uint8Array(opened.size));
  } finally {
    opened.file.close();
  }
}

/**
 * The first `headerSize` bytes of the entry file at `path` and its size, with
 * the same rules as {@linkcode readBytes}: `undefined` when missing, an empty
 * header when it must not be read.
 */
export function readHeader(
  path: string,
  headerSize: number,
  cap: number,
): { header: Uint8Array; size: number } | undefined {
  const opened = openRegular(path, cap);
  if (opened === "directory") return { header: DIRECTORY, size: 0 };
  if (opened == null) return opened === null ? { header: NOTHING, size: 0 } : undefined;
  try {
    return { header: readInto(opened.file, new Uint8Array(headerSize)), size: opened.size };
  } finally {
    opened.file.close();
  }
}

/**
 * The first `headerSize` bytes of the entry file at `path`, then the `more(header)` bytes
 * after them (at most what the file holds), with the rules of {@linkcode readBytes}:
 * `undefined` when missing, an empty header when it must not be read.
 */
export function readLeading(
  path: string,
  headerSize: number,
  cap: number,
  more: (header: Uint8Array, size: number) => number,
): { header: Uint8Array; rest: Uint8Array; size: number } | undefined {
  const opened = openRegular(path, cap);
  if (opened === "directory") return { header: DIRECTORY, rest: NOTHING, size: 0 };
  if (opened == null) {
    return opened === null ? { header: NOTHING, rest: NOTHING, size: 0 } : undefined;
  }
  try {
    const header = readInto(opened.file, new Uint8Array(headerSize));
    const count = Math.max(0, Math.min(more(header, opened.size), opened.size - header.length));
    return { header, rest: readInto(opened.file, new Uint8Array(count)), size: opened.size };
  } finally {
    opened.file.close();
  }
}

/** Removes the file at `path`; `false` when it did not exist. */
export function removeFile(path: string): boolean {
  return unlessMissing(() => (Deno.removeSync(path), true)) ?? false;
}

/** `fn()`'s result, or `undefined` when it failed because a file is not there. */
export function unlessMissing<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Writes `bytes` to the new file `temp`, then renames it over `path`, so a
 * reader sees the old file or the new one, never a part. `chmod` sets `mode`
 * exactly when the umask may have cleared some of its bits.
 */
export function writeAtomic(
  path: string,
  temp: string,
  bytes: Uint8Array,
  mode: number,
  chmod: boolean,
): void {
  try {
    Deno.writeFileSync(temp, bytes, { createNew: true, mode });
    if (chmod) Deno.chmodSync(temp, mode);
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch { /* never created, or already renamed */ }
    throw error;
  }
}

/**
 * Makes misses cheap when they are common. Deno reports a missing file by
 * throwing, and building that error costs ~12 µs, more than reading a small
 * file (~7 µs); `existsSync` answers a miss in ~1.5 µs without throwing but
 * adds that much to every hit. So the probe runs first only while misses are
 * frequent (a moving average of the miss rate above 8%, where it starts to
 * pay off).
 */
export class MissProbe {
  #rate = 0;

  /** `true` when the probe ran and found no file at `path`. */
  absent(path: string): boolean {
    if (this.#rate < 0.08 || existsSync(path)) return false;
    this.saw(false);
    return true;
  }

  /** Records whether a read found its file. */
  saw(found: boolean): void {
    this.#rate = this.#rate * 0.97 + (found ? 0 : 0.03);
  }
}
