/**
 * Checks `MemcachedCache`'s constructor options.
 *
 * @module
 */
import { _describe, redactCredentials } from "../../cache.ts";
import type { MemjsClient } from "./binary.ts";
import { isPlain, MAX_PREFIX_BYTES } from "./keys.ts";

/** The checked options. */
export interface CheckedOptions {
  client: MemjsClient | undefined;
  servers: string[];
  keyPrefix: string;
  timeout: number;
}

/**
 * Validates `servers` / `client`, `keyPrefix` and `timeout`.
 *
 * @throws {TypeError} A malformed server, both `servers` and `client`, a
 * client that is not a memjs client or uses failover, a prefix memcached
 * cannot carry.
 * @throws {RangeError} A timeout that is not a finite number > 0.
 */
export function checkOptions(
  options: {
    client?: MemjsClient | undefined;
    servers?: string | readonly string[] | undefined;
    keyPrefix?: string | undefined;
    timeout?: number | undefined;
  },
): CheckedOptions {
  const { client, servers, keyPrefix = "", timeout = 5000 } = options;
  const fail = (why: string) => new TypeError(`Cannot create MemcachedCache: ${why}`);
  if (client !== undefined && servers !== undefined) throw fail("give servers or client, not both");
  if (client !== undefined) {
    if (typeof client?.perform !== "function" || !Array.isArray(client.servers)) {
      throw fail(`client must be a memjs Client, received ${_describe(client)}`);
    }
    if (client.options?.failover) {
      throw fail(
        "a memjs client with failover: true moves keys between servers, which getMany() cannot follow",
      );
    }
  }
  if (
    typeof keyPrefix !== "string" || (keyPrefix !== "" && !isPlain(keyPrefix)) ||
    keyPrefix.length > MAX_PREFIX_BYTES
  ) {
    throw fail(
      `keyPrefix must be printable ASCII without spaces, at most ${MAX_PREFIX_BYTES} characters, received ${
        _describe(keyPrefix)
      }`,
    );
  }
  if (typeof timeout !== "number" || !(timeout > 0) || timeout === Infinity) {
    throw new RangeError(
      `Cannot create MemcachedCache: timeout must be a finite number of ms > 0, received ${
        _describe(timeout)
      }`,
    );
  }
  return { client, servers: checkServers(servers ?? "127.0.0.1:11211"), keyPrefix, timeout };
}

function checkServers(servers: string | readonly string[]): string[] {
  const list = typeof servers === "string" ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(
      `Cannot create MemcachedCache: servers must be "host:port" or a non-empty list of them, received ${
        _describe(servers)
      }`,
    );
  }
  return list.map((server) => {
    const match = typeof server === "string" ? /^([^\s:,@]+)(?::(\d{1,5}))?$/.exec(server) : null;
    if (!match || Number(match[2] ?? 11211) > 65535) {
      // memjs-style "user:pass@host" specs are refused (the text-protocol half has no SASL),
      // and never echoed with their credentials.
      const why = typeof server === "string" && server.includes("@")
        ? ' (credentials in a server spec, "user:pass@host", are not supported)'
        : "";
      throw new TypeError(
        `Cannot create MemcachedCache: each server must be "host:port", received ${
          redactCredentials(_describe(server))
        }${why}`,
      );
    }
    return `${match[1]}:${match[2] ?? 11211}`;
  });
}
