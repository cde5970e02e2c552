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

/** The bytes of the file at `path`, or `undefined` when it does not exist. */
export function readBytes(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Removes the file at `path`; `false` when it did not exist. */
export function removeFile(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
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
