/**
 * `file://`: the URL scheme of {@linkcode FileSystemCache}.
 *
 * @module
 */
import type { UrlScheme } from "../_url.ts";
import { FileSystemCache } from "../filesystem.ts";

/** `file:///abs/dir` or `file://?appName=x`, plus `maxEntries`, `defaultTtl`, `mode=0600` */
export interface FileUrlOptions {
  /** The directory, from the URL's path. */
  dir?: string;
  /** `?appName=`: a directory of this name in the user's cache directory. */
  appName?: string;
  /** `?maxEntries=`: the most entries kept. */
  maxEntries?: number;
  /** `?defaultTtl=`: the ttl in ms of calls without one; `0` = never. */
  defaultTtl?: number;
  /** `?mode=`: the file mode of new files, such as `0600`. */
  mode?: number;
}

/** `file:///var/cache/app` (a directory) or `file://?appName=app` (the user's cache directory). */
export const fileUrl: UrlScheme<"file", FileUrlOptions> = {
  scheme: "file",
  params: { appName: "name", maxEntries: "integer", defaultTtl: "ms", mode: "fileMode" },
  options(url) {
    const { authority, path, params } = url;
    if (authority !== "" && authority !== "localhost") {
      url.fail(
        `file:// takes an absolute path (file:///var/cache/app) or ?appName=, not a host ("${authority}")`,
      );
    }
    const dir = /^\/[A-Za-z]:[/\\]/.test(path) ? path.slice(1) : path.replace(/(.)\/+$/, "$1");
    const hasDir = dir !== "" && dir !== "/";
    if (hasDir && params.appName !== undefined) url.fail("give a directory or appName, not both");
    if (!hasDir && params.appName === undefined) {
      url.fail("give a directory (file:///var/cache/app) or ?appName=");
    }
    return hasDir ? { dir, ...params } : params;
  },
  create: (options) => new FileSystemCache(options),
};
