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
import { CORRUPT, ENTRY_NAME, expiryOf, HEADER_SIZE, isLive, TEMP_NAME } from "./_format.ts";
import type { StripeLocks } from "./_locks.ts";
import { DIRECTORY, readHeader, removeFile, unlessMissing } from "./_files.ts";

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
  for (const { name, isDirectory } of Deno.readDirSync(dir)) {
    if (isDirectory) continue; // never ours; removing it is not the cache's call
    if (name.length === 64 && ENTRY_NAME.test(name)) entries.push(name);
    else if (TEMP_NAME.test(name)) temps.push(name);
  }
  return { entries, temps };
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
      const mtime = Deno.lstatSync(path).mtime?.getTime() ?? 0;
      if (wallNow - mtime >= ORPHAN_AGE && removeFile(path)) removed++;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return removed;
}

/**
 * The expiry in the header of entry `name` in `dir` (checked against the
 * name, not the checksum), {@linkcode CORRUPT}, or `undefined` when missing
 * or a directory (never the cache's to remove).
 */
export function headerExpiry(dir: string, name: string, cap: number): number | undefined {
  const found = readHeader(`${dir}/${name}`, HEADER_SIZE, cap);
  if (found === undefined || found.header === DIRECTORY) return undefined;
  return expiryOf(found.header, found.size, name);
}

/**
 * Removes the entry `name` if it is still dead (expired at `now`, or corrupt).
 *
 * @returns Whether a file was removed.
 */
export function removeIfDead(
  dir: string,
  name: string,
  locks: StripeLocks,
  now: number,
  cap: number,
): Promise<boolean> {
  return locks.run(name, () => {
    const expiry = headerExpiry(dir, name, cap);
    if (expiry === undefined) return false;
    if (expiry !== CORRUPT && isLive(expiry, now)) return false;
    return removeFile(`${dir}/${name}`);
  });
}

interface Candidate {
  name: string;
  mtime: number;
  size: number;
}

/** What a prune learnt about an entry file; valid while its mtime and size are unchanged. */
export interface HeaderHint {
  mtime: number;
  size: number;
  expiry: number;
}

/**
 * Removes dead entries among `names`, then the oldest live ones until at most
 * `target` remain.
 *
 * `hints` carries headers read by earlier passes: an entry file is never
 * modified in place (every write renames a new file over it), so a file with
 * the same mtime and size as last time has the same header and costs one
 * `stat` instead of an open, a read and a close. A stale hint cannot lose
 * data: every removal checks the file again under its lock. The map is
 * updated to hold exactly the entries seen.
 *
 * @returns How many dead entries and how many live entries were removed.
 */
export async function pruneEntries(
  dir: string,
  names: readonly string[],
  locks: StripeLocks,
  now: number,
  target: number,
  cap: number,
  hints: Map<string, HeaderHint> = new Map(),
): Promise<{ dead: number; evicted: number }> {
  let dead = 0;
  const live: Candidate[] = [];
  const seen = new Map<string, HeaderHint>();
  for (const name of names) {
    const path = `${dir}/${name}`;
    const info = unlessMissing(() => Deno.lstatSync(path));
    if (info === undefined) continue;
    const mtime = info.mtime?.getTime() ?? 0;
    const size = info.size;
    const hint = hints.get(name);
    let expiry: number | undefined;
    if (hint !== undefined && hint.mtime === mtime && hint.size === size) {
      expiry = hint.expiry;
    } else {
      expiry = headerExpiry(dir, name, cap);
      if (expiry === undefined) continue;
    }
    if (expiry === CORRUPT || !isLive(expiry, now)) {
      if (await removeIfDead(dir, name, locks, now, cap)) dead++;
    } else {
      seen.set(name, { mtime, size, expiry });
      live.push({ name, mtime, size });
    }
  }
  let evicted = 0;
  const excess = live.length - target;
  if (excess > 0) {
    live.sort((a, b) => a.mtime - b.mtime || (a.name < b.name ? -1 : 1));
    for (const { name, mtime, size } of live.slice(0, excess)) {
      const path = `${dir}/${name}`;
      const removed = await locks.run(name, () => {
        const info = unlessMissing(() => Deno.lstatSync(path));
        if (info === undefined) return false;
        // Rewritten since it was chosen: a newer value, keep it.
        if ((info.mtime?.getTime() ?? 0) !== mtime || info.size !== size) return false;
        return removeFile(path);
      });
      if (removed) {
        evicted++;
        seen.delete(name);
      }
    }
  }
  hints.clear();
  for (const [name, hint] of seen) hints.set(name, hint);
  return { dead, evicted };
}
