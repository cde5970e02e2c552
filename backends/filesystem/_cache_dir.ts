/**
 * The platform's per-user cache folder, as `appdirs.user_cache_dir` gives
 * it to Python users.
 *
 * @module
 */

/** What {@linkcode userCacheDir} needs from the environment (injectable for tests). */
export interface PlatformInfo {
  /** `Deno.build.os`. */
  os: string;
  /** Reads an environment variable. */
  env: (name: string) => string | undefined;
}

/**
 * The user cache folder of application `appName`: `$XDG_CACHE_HOME/<app>` or
 * `~/.cache/<app>` on Linux and other Unixes, `~/Library/Caches/<app>` on
 * macOS, `%LOCALAPPDATA%\<app>\Cache` on Windows.
 *
 * @throws {TypeError} An empty `appName`, one with a path separator or `..`,
 * or a platform whose home folder cannot be found.
 */
export function userCacheDir(
  appName: string,
  platform: PlatformInfo = { os: Deno.build.os, env: (name) => Deno.env.get(name) },
): string {
  if (typeof appName !== "string" || appName === "" || /[/\\]|^\.\.?$/.test(appName)) {
    throw new TypeError(
      `Cannot create FileSystemCache: appName must be a non-empty name without path separators, received ${
        JSON.stringify(appName)
      }`,
    );
  }
  const { os, env } = platform;
  const need = (name: string): string => {
    const value = env(name);
    if (!value) {
      throw new TypeError(
        `Cannot create FileSystemCache: cannot find the user cache folder for appName ${
          JSON.stringify(appName)
        }: ${name} is not set`,
      );
    }
    return value;
  };
  if (os === "windows") return `${need("LOCALAPPDATA")}\\${appName}\\Cache`;
  if (os === "darwin") return `${need("HOME")}/Library/Caches/${appName}`;
  const xdg = env("XDG_CACHE_HOME");
  // The XDG spec ignores a relative XDG_CACHE_HOME.
  if (xdg && xdg.startsWith("/")) return `${xdg}/${appName}`;
  return `${need("HOME")}/.cache/${appName}`;
}

/**
 * Creates the cache directory when missing (mode 0700, or 0770 when
 * `shared`) and refuses one that someone else could write to: not owned by
 * this process's user or group-writable (unless `shared`), or writable by
 * every user (always). Skipped on Windows, which has no owner uid or mode bits.
 *
 * @returns Why the directory is refused, or `undefined` when it may be used.
 */
export function prepareDir(dir: string, shared: boolean): string | undefined {
  const mode = shared ? 0o770 : 0o700;
  let created = false;
  try {
    Deno.lstatSync(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    Deno.mkdirSync(dir, { recursive: true, mode });
    created = true;
  }
  if (Deno.build.os === "windows") return undefined;
  const info = Deno.statSync(dir);
  if (!info.isDirectory) return "it is not a directory";
  if (created) Deno.chmodSync(dir, mode); // the umask may have cleared group bits
  const uid = ownUid(dir);
  const bits = (created ? mode : info.mode ?? 0) & 0o7777;
  const octal = `0${(bits & 0o777).toString(8)}`;
  if (bits & 0o002) {
    return `it is writable by every user (mode ${octal}): anyone could plant values; ` +
      `chmod o-w it or use another directory`;
  }
  if (shared) return undefined;
  if (info.uid !== uid) {
    return `it is owned by uid ${info.uid}, not by this process's uid ${uid}: its owner ` +
      `could plant values; use your own directory, or pass sharedDir: true to trust it`;
  }
  if (bits & 0o020) {
    return `it is writable by its group (mode ${octal}): group members could plant values; ` +
      `chmod g-w it, or pass sharedDir: true to trust the group`;
  }
  return undefined;
}

/**
 * This process's uid: `Deno.uid()` when `--allow-sys` grants it, else the
 * owner of a file created (and removed at once) in `dir`, which is the same
 * number without asking for another permission.
 */
function ownUid(dir: string): number | null {
  try {
    return Deno.uid();
  } catch (error) {
    if (
      !(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)
    ) {
      throw error;
    }
  }
  const probe = `${dir}/${"0".repeat(64)}.uid${Math.random().toString(36).slice(2, 10)}.tmp`;
  const file = Deno.openSync(probe, { write: true, createNew: true, mode: 0o600 });
  try {
    return file.statSync().uid;
  } finally {
    file.close();
    Deno.removeSync(probe);
  }
}
