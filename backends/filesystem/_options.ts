/**
 * The options of {@linkcode FileSystemCache} and their checks.
 *
 * @module
 */
import { _describe, CacheError, checkOptionNames } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import { userCacheDir } from "./_cache_dir.ts";

/** Options of {@linkcode FileSystemCache}. Exactly one of `dir` and `appName` is required. */
export interface FileSystemCacheOptions {
  /** The directory of the entries; created (mode 0700) when missing. */
  dir?: string | undefined;
  /**
   * Use the platform's user cache folder for this application instead of
   * `dir`: `$XDG_CACHE_HOME/<app>` or `~/.cache/<app>` (Linux),
   * `~/Library/Caches/<app>` (macOS), `%LOCALAPPDATA%\<app>\Cache` (Windows).
   */
  appName?: string | undefined;
  /** The bound on the number of entries; `0` = unbounded. Default 500. */
  maxEntries?: number | undefined;
  /** Lifetime in ms of entries stored without a ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /**
   * Permission bits of the files created. Default `0o600`. Group bits (e.g.
   * `0o660`) let a group read or write the files, but the directory must
   * still be yours and not group-writable unless `sharedDir` is `true`.
   */
  mode?: number | undefined;
  /**
   * Accept a directory that other users can write to through its group
   * (mode `g+w`) or that another user owns: everyone with write access can
   * then plant values this cache will return. Default `false`: such a
   * directory is refused with a `CacheError`. A world-writable directory is
   * always refused. A directory created with `sharedDir: true` is made 0770.
   */
  sharedDir?: boolean | undefined;
  /**
   * The longest wait, in ms, for a per-key lock held by another process;
   * past it the call rejects with a `CacheError`. Default 10 000.
   */
  lockTimeout?: number | undefined;
  /**
   * The largest entry file read or written, in bytes (header included).
   * A larger file found in the directory is a miss and is removed; a `set`
   * of a larger value returns `false` and removes the key. Default 64 MiB.
   */
  maxEntrySize?: number | undefined;
  /** Turns values into bytes. Default {@linkcode defaultSerializer}. */
  serializer?: Serializer | undefined;
  /** The clock in ms used for expiry (stored as an absolute time). Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** The checked options, defaults applied, `appName` resolved to a directory. */
export interface ResolvedOptions {
  dir: string;
  maxEntries: number;
  mode: number;
  now: () => number;
  sharedDir: boolean;
  lockTimeout: number;
  maxEntrySize: number;
}

/** Every option name {@linkcode FileSystemCache} reads. */
export const OPTION_NAMES = [
  "dir",
  "appName",
  "maxEntries",
  "defaultTtl",
  "mode",
  "serializer",
  "now",
  "sharedDir",
  "lockTimeout",
  "maxEntrySize",
] as const;

/** The default {@linkcode FileSystemCacheOptions.maxEntrySize}: 64 MiB. */
export const DEFAULT_MAX_ENTRY_SIZE = 64 * 1024 * 1024;

/**
 * Checks the options, applies the defaults and freezes the result.
 *
 * @throws {TypeError} Neither or both of `dir` and `appName`, or an option of the wrong type.
 * @throws {RangeError} A `maxEntries` or `mode` out of range.
 */
export function resolveOptions(options: FileSystemCacheOptions): Readonly<ResolvedOptions> {
  checkOptionNames("FileSystemCache", options, OPTION_NAMES);
  const {
    dir,
    appName,
    maxEntries = 500,
    mode = 0o600,
    now = Date.now,
    sharedDir = false,
    lockTimeout = 10_000,
    maxEntrySize = DEFAULT_MAX_ENTRY_SIZE,
  } = options ?? {};
  if ((dir === undefined) === (appName === undefined)) {
    throw new TypeError(
      `Cannot create FileSystemCache: give exactly one of dir and appName, received ${
        dir === undefined ? "neither" : "both"
      }`,
    );
  }
  if (dir !== undefined && (typeof dir !== "string" || dir === "")) {
    throw new TypeError(
      `Cannot create FileSystemCache: dir must be a non-empty string, received ${_describe(dir)}`,
    );
  }
  if (typeof maxEntries !== "number" || !Number.isSafeInteger(maxEntries) || maxEntries < 0) {
    throw new RangeError(
      `Cannot create FileSystemCache: maxEntries must be an integer >= 0, received ${
        _describe(maxEntries)
      }`,
    );
  }
  if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError(
      `Cannot create FileSystemCache: mode must be permission bits between 0 and 0o777, received ${
        _describe(mode)
      }`,
    );
  }
  if (typeof now !== "function") {
    throw new TypeError(
      `Cannot create FileSystemCache: now must be a function, received ${_describe(now)}`,
    );
  }
  if (typeof sharedDir !== "boolean") {
    throw new TypeError(
      `Cannot create FileSystemCache: sharedDir must be a boolean, received ${
        _describe(sharedDir)
      }`,
    );
  }
  if (typeof lockTimeout !== "number" || !Number.isFinite(lockTimeout) || lockTimeout < 0) {
    throw new RangeError(
      `Cannot create FileSystemCache: lockTimeout must be a finite number of ms >= 0, received ${
        _describe(lockTimeout)
      }`,
    );
  }
  if (
    typeof maxEntrySize !== "number" || !Number.isSafeInteger(maxEntrySize) || maxEntrySize < 1
  ) {
    throw new RangeError(
      `Cannot create FileSystemCache: maxEntrySize must be an integer >= 1, received ${
        _describe(maxEntrySize)
      }`,
    );
  }
  return Object.freeze({
    dir: dir ?? cacheDirOf(appName!),
    maxEntries,
    mode,
    now,
    sharedDir,
    lockTimeout,
    maxEntrySize,
  });
}

/** {@linkcode userCacheDir}, with a missing `--allow-env` as a `CacheError` that says so. */
function cacheDirOf(appName: string): string {
  try {
    return userCacheDir(appName);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) {
      throw new CacheError(
        `Cannot create FileSystemCache: appName ${
          JSON.stringify(appName)
        } needs the environment variables that locate the user cache folder ` +
          `(XDG_CACHE_HOME, HOME; LOCALAPPDATA on Windows): run with --allow-env, or pass dir: ${
            (cause as Error).message
          }`,
        { cause },
      );
    }
    throw cause;
  }
}
