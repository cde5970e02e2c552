/**
 * Checks `MemcachedCache`'s constructor options.
 *
 * @module
 */
import { _describe, redactCredentials, scrubSecrets } from "../../cache.ts";
import { checkTimeout } from "../_toolkit/options.ts";
import type { MemjsClient } from "./_binary.ts";
import { isPlain, MAX_PREFIX_BYTES } from "./_keys.ts";

/** A server of the pool: `"host:port"`, or that with a ring weight. */
export type MemcachedServer = string | { readonly address: string; readonly weight?: number };

/** How keys are placed on the servers. */
export type MemcachedDistribution = "ketama" | "modulo";

/** The checked options. */
export interface CheckedOptions {
  client: MemjsClient | undefined;
  /** `"host:port"` of each server (of the given client's servers, when there is one). */
  servers: string[];
  /** The ring weight of each server (1 unless given). */
  weights: number[];
  keyPrefix: string;
  timeout: number;
  distribution: MemcachedDistribution;
  downRetryDelay: number;
  generationTtl: number;
  getManyFailOpen: boolean;
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
    servers?: MemcachedServer | readonly MemcachedServer[] | undefined;
    keyPrefix?: string | undefined;
    timeout?: number | undefined;
    distribution?: MemcachedDistribution | undefined;
    downRetryDelay?: number | undefined;
    generationTtl?: number | undefined;
    getManyFailOpen?: boolean | undefined;
  },
): CheckedOptions {
  const {
    client,
    servers,
    keyPrefix = "",
    distribution = "ketama",
    downRetryDelay = 1000,
    generationTtl = 1000,
    getManyFailOpen = false,
  } = options;
  const fail = (why: string) => new TypeError(`Cannot create MemcachedCache: ${why}`);
  if (client !== undefined && servers !== undefined) throw fail("give servers or client, not both");
  if (client !== undefined) {
    if (typeof client?.perform !== "function" || !Array.isArray(client.servers)) {
      throw fail(`client must be a memjs Client, received ${_describe(client)}`);
    }
    const methods = ["write", "onResponse", "onError"] as const;
    if (client.servers.some((s) => methods.some((m) => typeof s?.[m] !== "function"))) {
      throw fail("client must be a memjs 1.3 Client (its servers need write, onResponse, onError)");
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
  const timeout = checkTimeout("MemcachedCache", options.timeout, 5000);
  if (distribution !== "ketama" && distribution !== "modulo") {
    throw fail(`distribution must be "ketama" or "modulo", received ${_describe(distribution)}`);
  }
  for (
    const [name, value] of [["downRetryDelay", downRetryDelay], ["generationTtl", generationTtl]]
  ) {
    if (typeof value !== "number" || !(value >= 0) || value === Infinity) {
      throw new RangeError(
        `Cannot create MemcachedCache: ${name} must be a finite number of ms >= 0, received ${
          _describe(value)
        }`,
      );
    }
  }
  if (typeof getManyFailOpen !== "boolean") {
    throw fail(`getManyFailOpen must be a boolean, received ${_describe(getManyFailOpen)}`);
  }
  const pool = client
    ? {
      servers: client.servers.map((s) => `${s.host}:${s.port}`),
      weights: client.servers.map(() => 1),
    }
    : checkServers(servers ?? "127.0.0.1:11211");
  if (new Set(pool.servers).size !== pool.servers.length) {
    throw fail(`a server is listed twice: ${pool.servers.join(", ")}`);
  }
  return {
    client,
    ...pool,
    keyPrefix,
    timeout,
    distribution,
    downRetryDelay,
    generationTtl,
    getManyFailOpen,
  };
}

function checkServers(
  servers: MemcachedServer | readonly MemcachedServer[],
): { servers: string[]; weights: number[] } {
  const list = typeof servers === "string" || !Array.isArray(servers) ? [servers] : servers;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(
      `Cannot create MemcachedCache: servers must be "host:port" or a non-empty list of them, received ${
        _describe(servers)
      }`,
    );
  }
  const weights: number[] = [];
  const addresses = list.map((entry: MemcachedServer) => {
    const weighted = typeof entry === "object" && entry !== null;
    const server = weighted ? entry.address : entry;
    const weight = weighted ? entry.weight ?? 1 : 1;
    if (!Number.isInteger(weight) || weight < 1 || weight > 1000) {
      throw new RangeError(
        `Cannot create MemcachedCache: a server's weight must be an integer 1..1000, received ${
          _describe(weight)
        }`,
      );
    }
    weights.push(weight);
    const match = typeof server === "string" ? /^([^\s:,@]+)(?::(\d{1,5}))?$/.exec(server) : null;
    if (!match || Number(match[2] ?? 11211) > 65535) {
      throw new TypeError(
        `Cannot create MemcachedCache: each server must be "host:port", received ${
          describeServer(server)
        }`,
      );
    }
    return `${match[1]}:${match[2] ?? 11211}`;
  });
  return { servers: addresses, weights };
}

/**
 * A malformed server for a message, without its credentials. memjs-style
 * `"user:pass@host"` specs are refused (the text-protocol half has no SASL):
 * everything up to the last `@` is credentials (a password may hold spaces,
 * quotes, `/` or `@`), so only the part after it is shown; that known secret
 * is also scrubbed from the result (raw, percent-encoded and -decoded), and
 * {@linkcode redactCredentials} runs last.
 */
function describeServer(server: unknown): string {
  if (typeof server !== "string" || !server.includes("@")) {
    return redactCredentials(_describe(server));
  }
  const at = server.lastIndexOf("@");
  const userinfo = server.slice(0, at).replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const colon = userinfo.indexOf(":");
  const secrets = colon < 0 ? [userinfo] : [userinfo, userinfo.slice(colon + 1)];
  const shown = `${_describe(`***@${server.slice(at + 1)}`)} (credentials in a server spec, ` +
    `before an "@", are not supported)`;
  return redactCredentials(scrubSecrets(shown, secrets));
}
