/**
 * Keeping a {@linkcode FileSystemCache} directory within its bound, derived
 * from the directory itself (no count file that could drift): list it, remove
 * orphaned temp files, then dead entries (expired or corrupt), then the oldest
 * entries by modification time (the time of their last write).
 *
 * Every removal of an entry happens under that entry's lock after checking
 * again that it is still the file that was chosen, so a prune never removes a
 * value another process has just written.
 *
 * @module
 */
import {
  CORRUPT,
  ENTRY_NAME,
  expiryOf,
  HEADER_SIZE,
  isLive,
  readExpiry,
  TEMP_NAME,
} from "./format.ts";
import type { StripeLocks } from "./locks.ts";

/** A temp file untouched for this long (ms) belongs to a writer that died. */
export const ORPHAN_AGE = 60_000;

/** The names of the files in a cache directory that belong to the cache. */
export interface Listing {
  /** Entry files (64 hex digits). */
  entries: string[];
  /** Temp files of writes in progress or of writers that died. */
  temps: string[];
}

/** Lists the cache's own files in `dir`; other files are left out. */
export function listDir(dir: string): Listing {
  const entries: string[] = [];
  const temps: string[] = [];
  for (const { name } of Deno.readDirSync(dir)) {
    if (name.length === 64 && ENTRY_NAME.test(name)) entries.push(name);
    else if (TEMP_NAME.test(name)) temps.push(name);
  }
  return { entries, temps };
}

function removeQuietly(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Removes the temp files among `temps` not written for {@linkcode ORPHAN_AGE}
 * ms of wall-clock time (file times are wall-clock, whatever the cache's clock).
 *
 * @returns How many were removed.
 */
export function removeOrphans(dir: string, temps: readonly string[], wallNow: number): number {
  let removed = 0;
  for (const name of temps) {
    const path = `${dir}/${name}`;
    try {
      const mtime = Deno.statSync(path).mtime?.getTime() ?? 0;
      if (wallNow - mtime >= ORPHAN_AGE && removeQuietly(path)) removed++;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return removed;
}

/**
 * Removes the entry `name` if it is still dead (expired at `now`, or corrupt).
 *
 * @returns Whether a file was removed.
 */
export function removeIfDead(dir: string, name: string, locks: StripeLocks, now: number): boolean {
  const path = `${dir}/${name}`;
  return locks.run(name, () => {
    const expiry = readExpiry(path);
    if (expiry === undefined) return false;
    if (expiry !== CORRUPT && isLive(expiry, now)) return false;
    return removeQuietly(path);
  });
}

interface Candidate {
  name: string;
  mtime: number;
  size: number;
}

const header = new Uint8Array(HEADER_SIZE);

/**
 * Removes dead entries among `names`, then the oldest live ones until at most
 * `target` remain.
 *
 * @returns How many dead entries and how many live entries were removed.
 */
export function pruneEntries(
  dir: string,
  names: readonly string[],
  locks: StripeLocks,
  now: number,
  target: number,
): { dead: number; evicted: number } {
  let dead = 0;
  const live: Candidate[] = [];
  for (const name of names) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(`${dir}/${name}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    let expiry: number;
    let info: Deno.FileInfo;
    try {
      info = file.statSync();
      const n = file.readSync(header) ?? 0;
      expiry = expiryOf(header.subarray(0, n), info.size);
    } finally {
      file.close();
    }
    if (expiry === CORRUPT || !isLive(expiry, now)) {
      if (removeIfDead(dir, name, locks, now)) dead++;
    } else {
      live.push({ name, mtime: info.mtime?.getTime() ?? 0, size: info.size });
    }
  }
  let evicted = 0;
  const excess = live.length - target;
  if (excess > 0) {
    live.sort((a, b) => a.mtime - b.mtime || (a.name < b.name ? -1 : 1));
    for (const { name, mtime, size } of live.slice(0, excess)) {
      const path = `${dir}/${name}`;
      const removed = locks.run(name, () => {
        let info: Deno.FileInfo;
        try {
          info = Deno.statSync(path);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) return false;
          throw error;
        }
        // Rewritten since it was chosen: a newer value, keep it.
        if ((info.mtime?.getTime() ?? 0) !== mtime || info.size !== size) return false;
        return removeQuietly(path);
      });
      if (removed) evicted++;
    }
  }
  return { dead, evicted };
}
