/**
 * The options of {@linkcode UwsgiCache} and their checks.
 *
 * @module
 */
import { _describe, checkOptionNames, scrubSecrets } from "../../cache.ts";
import type { Serializer } from "../../serializers/serializer.ts";
import { checkTimeout } from "../_toolkit/options.ts";
import type { Endpoint } from "./_protocol.ts";

/** Options of {@linkcode UwsgiCache}. */
export interface UwsgiCacheOptions {
  /** `"host:port"` of the uWSGI socket serving the cache (`[::1]:3031` for IPv6). Default `"127.0.0.1:3031"`. */
  server?: string | undefined;
  /**
   * The uWSGI cache name (`--cache2 name=…`), or cachelib's `"name@host:port"`
   * form, which also sets the server. Default: the server's first cache.
   */
  cache?: string | undefined;
  /** Lifetime in ms of entries stored without a ttl; `0` = never expire. Default 300 000. */
  defaultTtl?: number | undefined;
  /** Turns values into bytes; default {@linkcode defaultSerializer}. */
  serializer?: Serializer | undefined;
  /**
   * ms one call may take, from the moment it is made: its wait for a free connection and
   * every request it sends (connect, send, reply). Default 5000.
   */
  timeout?: number | undefined;
}

/** Every option {@linkcode UwsgiCache} reads. */
export const OPTION_NAMES = ["server", "cache", "defaultTtl", "serializer", "timeout"] as const;

/** The checked options, defaults applied, `"name@host:port"` split. */
export interface ResolvedOptions {
  /** `"host:port"` of the server. */
  server: string;
  /** The uWSGI cache name (`""`: the server's first cache). */
  cache: string;
  /** Where requests go, and the per-call timeout. */
  endpoint: Readonly<Endpoint>;
}

/**
 * Checks the options (`defaultTtl` and `serializer` are the base class's), applies the
 * defaults and freezes the result.
 *
 * @throws {TypeError} An unknown option, or a malformed `server` or `cache`.
 * @throws {RangeError} A `timeout` that is not a finite number > 0.
 */
export function resolveOptions(options: UwsgiCacheOptions): Readonly<ResolvedOptions> {
  checkOptionNames("UwsgiCache", options, OPTION_NAMES);
  let server = options.server;
  let name = options.cache ?? "";
  if (typeof name !== "string") {
    throw new TypeError(
      `Cannot create UwsgiCache: cache must be a string, received ${_describe(name)}`,
    );
  }
  const at = name.lastIndexOf("@");
  if (at >= 0) {
    const fromName = name.slice(at + 1);
    if (server !== undefined && server !== fromName) {
      throw new TypeError(
        `Cannot create UwsgiCache: cache ${_describe(name)} names server ${
          _describe(fromName)
        } but server is ${_describe(server)}`,
      );
    }
    server = fromName;
    name = name.slice(0, at);
  }
  server ??= "127.0.0.1:3031";
  refuseCredentials(server, name);
  const timeout = checkTimeout("UwsgiCache", options.timeout, 5000);
  const endpoint = Object.freeze({ ...parseServer(server), timeout });
  return Object.freeze({ server, cache: name, endpoint });
}

/**
 * uWSGI's cache protocol has no authentication, so a `user:pass@host:port` server (or a
 * cache name that looks like `user:pass`) is a mistake that would put a password in every
 * error message: refused at once, the message scrubbed of what looks like the secret.
 */
function refuseCredentials(server: unknown, name: string): void {
  const spec = typeof server === "string" ? server : "";
  const at = spec.lastIndexOf("@");
  if (at < 0 && !name.includes(":")) return;
  const userinfo = at < 0 ? name : spec.slice(0, at);
  const colon = userinfo.indexOf(":");
  const secrets = [userinfo, colon < 0 ? "" : userinfo.slice(colon + 1)];
  const received = at < 0 ? `cache ${_describe(name)}` : `server ${_describe(spec)}`;
  throw new TypeError(
    scrubSecrets(
      `Cannot create UwsgiCache: uWSGI's cache protocol has no credentials; give server as "host:port" and cache as a plain name (no user:password@ part), received ${received}`,
      secrets,
    ),
  );
}

/** Splits `"host:port"` (or `"[v6]:port"`). */
function parseServer(server: unknown): { hostname: string; port: number } {
  const bad = (why: string) =>
    new TypeError(
      `Cannot create UwsgiCache: server must be "host:port", ${why}, received ${_describe(server)}`,
    );
  if (typeof server !== "string") throw bad("a string");
  const colon = server.lastIndexOf(":");
  if (colon <= 0) throw bad("with a port");
  const hostname = server.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(server.slice(colon + 1));
  if (
    !Number.isInteger(port) || port < 1 || port > 65535 || !/^\d+$/.test(server.slice(colon + 1))
  ) {
    throw bad("with a port from 1 to 65535");
  }
  return { hostname, port };
}
