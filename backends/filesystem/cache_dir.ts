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
      `Cannot create cache: appName must be a non-empty name without path separators, received ${
        JSON.stringify(appName)
      }`,
    );
  }
  const { os, env } = platform;
  const need = (name: string): string => {
    const value = env(name);
    if (!value) {
      throw new TypeError(
        `Cannot create cache: cannot find the user cache folder for appName ${
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
