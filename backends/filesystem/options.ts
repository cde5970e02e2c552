/**
 * The options of {@linkcode FileSystemCache} and their checks.
 *
 * @module
 */
import { _describe } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import { userCacheDir } from "./cache_dir.ts";

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
  /** Permission bits of the files created. Default `0o600`. */
  mode?: number | undefined;
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
}

/**
 * Checks the options and applies the defaults.
 *
 * @throws {TypeError} Neither or both of `dir` and `appName`, or an option of the wrong type.
 * @throws {RangeError} A `maxEntries` or `mode` out of range.
 */
export function resolveOptions(options: FileSystemCacheOptions): ResolvedOptions {
  const { dir, appName, maxEntries = 500, mode = 0o600, now = Date.now } = options ?? {};
  if ((dir === undefined) === (appName === undefined)) {
    throw new TypeError(
      `Cannot create cache: give exactly one of dir and appName, received ${
        dir === undefined ? "neither" : "both"
      }`,
    );
  }
  if (dir !== undefined && (typeof dir !== "string" || dir === "")) {
    throw new TypeError(
      `Cannot create cache: dir must be a non-empty string, received ${_describe(dir)}`,
    );
  }
  if (typeof maxEntries !== "number" || !Number.isSafeInteger(maxEntries) || maxEntries < 0) {
    throw new RangeError(
      `Cannot create cache: maxEntries must be an integer >= 0, received ${_describe(maxEntries)}`,
    );
  }
  if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError(
      `Cannot create cache: mode must be permission bits between 0 and 0o777, received ${
        _describe(mode)
      }`,
    );
  }
  if (typeof now !== "function") {
    throw new TypeError(`Cannot create cache: now must be a function, received ${_describe(now)}`);
  }
  return { dir: dir ?? userCacheDir(appName!), maxEntries, mode, now };
}
