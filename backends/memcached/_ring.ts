/**
 * A ketama consistent-hash ring that places keys on memcached servers the
 * way libmemcached does with `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED` (and, as a
 * variant, plain `MEMCACHED_BEHAVIOR_KETAMA`), so a cache shared with
 * pylibmc, PHP's memcached extension or any other libmemcached client finds
 * the same server for the same key.
 *
 * How libmemcached builds the continuum (libmemcached/hosts.cc,
 * `update_continuum`, the same in 1.0.18 and 1.1.x):
 * - each server has a point name per repetition `i`: `"host:port-i"`, or
 *   `"host-i"` when the port is 11 211 (the default port is left out);
 * - `"ketama-weighted"` (the default here; libmemcached's
 *   `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`, pylibmc's `ketama_weighted`): a
 *   server gets `floor(weight / totalWeight * 40 * serverCount) * 4` points
 *   (computed in C `float`s); repetition `i` runs over a quarter of that,
 *   and each md5 of its point name gives four points, the digest's bytes
 *   0–3, 4–7, 8–11 and 12–15, each read little-endian. With equal weights
 *   that is 40 digests × 4 = 160 points. A key's hash is md5 of its bytes,
 *   bytes 0–3 little-endian;
 * - `"ketama"` (libmemcached ≥ 1.0's plain `MEMCACHED_BEHAVIOR_KETAMA`,
 *   pylibmc's `ketama`): 100 points per server, each the default hash of
 *   its point name, and the key hashed with that same default hash — Bob
 *   Jenkins' one-at-a-time, not md5 (only `KETAMA_WEIGHTED` switches the
 *   hashes to md5). As soon as one server has a weight > 1, libmemcached
 *   weighs: the points become the md5 points above, the key hash stays
 *   one-at-a-time;
 * - a key's server owns the first point whose value is ≥ the key's hash,
 *   wrapping to the first point.
 *
 * Both variants were checked against libmemcached itself (pylibmc 1.6.3 on
 * Debian's libmemcached11 1.1.4): tests/fixtures/libmemcached_ketama.json
 * holds where it put 2 000 keys, and tests/memcached_ring_test.ts compares.
 *
 * libmemcached hashes the key without its namespace (`MEMCACHED_CALLBACK_PREFIX_KEY`)
 * unless `MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY` is set.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";

/** libmemcached's default port: left out of a point name. */
const DEFAULT_PORT = 11_211;

/** A server on the ring: its `"host:port"` address and an optional weight (default 1). */
export interface RingServer {
  /** `"host:port"` (or `"[v6]:port"`), exactly as the other clients are given it. */
  readonly address: string;
  /** A positive integer; a server with weight 2 gets twice the share of one with weight 1. */
  readonly weight?: number;
}

/** Which libmemcached behaviour to reproduce. */
export type KetamaVariant = "ketama-weighted" | "ketama";

/** Options of {@linkcode KetamaRing}. */
export interface KetamaRingOptions {
  /**
   * `"ketama-weighted"` (default): libmemcached's `KETAMA_WEIGHTED`, md5,
   * 160 points per server (the layout of last.fm's libketama). `"ketama"`:
   * libmemcached's plain `KETAMA` behaviour: one-at-a-time hashes, 100 points
   * per server — unless a server has a weight > 1, when libmemcached (and so
   * this ring) switches to the weighted md5 points.
   */
  readonly variant?: KetamaVariant;
}

/** The keys of one server in a batch, with their positions in that batch. */
export interface ServerGroup {
  /** The server's address. */
  readonly address: string;
  /** The keys, in batch order. */
  readonly keys: string[];
  /** `indices[i]` is the position of `keys[i]` in the batch. */
  readonly indices: number[];
}

const encoder = new TextEncoder();

/**
 * libmemcached's default hash, Bob Jenkins' one-at-a-time; each byte is read
 * as a C `char` (signed on x86-64), so bytes ≥ 0x80 are sign-extended.
 */
function oneAtATime(data: string | Uint8Array): number {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let value = 0;
  for (const byte of bytes) {
    value = (value + (byte >= 0x80 ? byte - 256 : byte)) >>> 0;
    value = (value + (value << 10)) >>> 0;
    value = (value ^ (value >>> 6)) >>> 0;
  }
  value = (value + (value << 3)) >>> 0;
  value = (value ^ (value >>> 11)) >>> 0;
  return (value + (value << 15)) >>> 0;
}

function md5(data: string | Uint8Array): Uint8Array {
  return createHash("md5").update(typeof data === "string" ? data : Buffer.from(data)).digest();
}

const K = Int32Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32),
);
const R = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const LITTLE_ENDIAN = new Uint8Array(Int32Array.of(1).buffer)[0] === 1;
let block = new Uint8Array(256);
let blockWords = new Int32Array(block.buffer);

/**
 * The first 32-bit word (bytes 0–3, little-endian) of the md5 of `key`'s
 * UTF-8 bytes: the ketama key hash, without `node:crypto`'s per-call cost
 * (a `createHash` object per key cost ~1.8 µs, this ~0.3 µs for a short key).
 * Equal to `createHash("md5")` for every string (tests/memcached_ring_test.ts).
 */
export function md5FirstWord(key: string): number {
  if (!LITTLE_ENDIAN) return word(md5(key), 0);
  let length = key.length;
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  const bytes = ascii ? undefined : encoder.encode(key);
  if (bytes) length = bytes.length;
  const size = (((length + 8) >>> 6) + 1) * 64;
  if (size > block.length) {
    block = new Uint8Array(size * 2);
    blockWords = new Int32Array(block.buffer);
  }
  if (bytes) block.set(bytes);
  else for (let i = 0; i < length; i++) block[i] = key.charCodeAt(i);
  block[length] = 0x80;
  block.fill(0, length + 1, size - 8);
  blockWords[(size >>> 2) - 2] = (length * 8) | 0;
  blockWords[(size >>> 2) - 1] = Math.floor(length / 0x20000000);
  let a0 = 0x67452301, b0 = 0xefcdab89 | 0, c0 = 0x98badcfe | 0, d0 = 0x10325476;
  for (let at = 0; at < size >>> 2; at += 16) {
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number, g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const x = (a + f + K[i]! + blockWords[at + g]!) | 0;
      const r = R[((i >>> 4) << 2) | (i & 3)]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((x << r) | (x >>> (32 - r)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  return a0 >>> 0;
}

/** Bytes `4 * word` … `4 * word + 3` of a digest, little-endian, as an unsigned 32-bit value. */
function word(digest: Uint8Array, index: number): number {
  const at = index * 4;
  return (digest[at]! | (digest[at + 1]! << 8) | (digest[at + 2]! << 16) |
    (digest[at + 3]! << 24)) >>>
    0;
}

/** Splits `"host:port"` / `"[v6]:port"` / `"host"` the way libmemcached stores them. */
function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(address);
  if (!match) {
    throw new TypeError(`Invalid memcached server address "${address}": expected "host:port"`);
  }
  const port = match[3] === undefined ? DEFAULT_PORT : Number(match[3]);
  if (port < 1 || port > 65_535) {
    throw new RangeError(`Invalid memcached server address "${address}": port must be 1..65535`);
  }
  return { host: match[1] ?? match[2]!, port };
}

/**
 * The key → server map of a ketama continuum. Immutable: {@linkcode without}
 * returns a new ring, as libmemcached rebuilds its continuum over the live
 * servers when it ejects one.
 *
 * @example Three servers; removing one moves only its own keys
 * ```ts
 * import assert from "node:assert/strict";
 * import { KetamaRing } from "./_ring.ts";
 *
 * const ring = new KetamaRing(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]);
 * const server = ring.serverFor("user:42");
 * assert.equal(ring.pointCount, 480);
 * const other = ring.servers.find((s) => s !== server)!;
 * assert.equal(ring.without(other).serverFor("user:42"), server);
 * ```
 */
export class KetamaRing {
  /** The servers, in the order given. */
  readonly servers: readonly string[];
  #weights: readonly number[];
  #variant: KetamaVariant;
  /** Point values, ascending. */
  #points: Uint32Array;
  /** `#owners[i]` is the index in `servers` of the server owning `#points[i]`. */
  #owners: Uint16Array;

  /**
   * Builds the continuum.
   *
   * @param servers `"host:port"` addresses, or `{ address, weight }`.
   * @param options `variant`: which libmemcached behaviour to reproduce.
   * @throws {RangeError} No servers, a repeated address, or a weight that is not a positive integer.
   * @throws {TypeError} An address that is not `"host:port"`.
   */
  constructor(servers: readonly (string | RingServer)[], options: KetamaRingOptions = {}) {
    const variant = options.variant ?? "ketama-weighted";
    if (variant !== "ketama-weighted" && variant !== "ketama") {
      throw new TypeError(
        `Invalid ketama variant "${variant}": expected "ketama-weighted" or "ketama"`,
      );
    }
    if (servers.length === 0) throw new RangeError("A ketama ring needs at least one server");
    if (servers.length > 0xffff) throw new RangeError("A ketama ring takes at most 65535 servers");
    const addresses: string[] = [];
    const weights: number[] = [];
    for (const server of servers) {
      const address = typeof server === "string" ? server : server.address;
      const weight = typeof server === "string" ? 1 : server.weight ?? 1;
      if (!Number.isInteger(weight) || weight < 1) {
        throw new RangeError(
          `Invalid weight for memcached server "${address}": expected an integer >= 1, received ${weight}`,
        );
      }
      parseAddress(address);
      if (addresses.includes(address)) {
        throw new RangeError(`Memcached server "${address}" is listed twice`);
      }
      addresses.push(address);
      weights.push(weight);
    }
    this.servers = addresses;
    this.#weights = weights;
    this.#variant = variant;
    [this.#points, this.#owners] = this.#build();
  }

  #build(): [Uint32Array, Uint16Array] {
    const weighted = this.#variant === "ketama-weighted" || this.#weights.some((w) => w > 1);
    const total = this.#weights.reduce((a, b) => a + b, 0);
    const values: number[] = [];
    const owners: number[] = [];
    this.servers.forEach((address, index) => {
      const { host, port } = parseAddress(address);
      const name = port === DEFAULT_PORT ? host : `${host}:${port}`;
      if (weighted) {
        // libmemcached computes this in C `float`s; Math.fround keeps each step a float32.
        const pct = Math.fround(Math.fround(this.#weights[index]!) / Math.fround(total));
        const quarter = Math.fround(Math.fround(Math.fround(pct * 160) / 4) * this.servers.length);
        const digests = Math.floor(quarter + 0.0000000001);
        for (let i = 0; i < digests; i++) {
          const digest = md5(`${name}-${i}`);
          for (let w = 0; w < 4; w++) {
            values.push(word(digest, w));
            owners.push(index);
          }
        }
      } else {
        for (let i = 0; i < 100; i++) {
          values.push(oneAtATime(`${name}-${i}`));
          owners.push(index);
        }
      }
    });
    const order = values.map((_, i) => i).sort((a, b) =>
      values[a]! - values[b]! || owners[a]! - owners[b]!
    );
    return [
      Uint32Array.from(order, (i) => values[i]!),
      Uint16Array.from(order, (i) => owners[i]!),
    ];
  }

  /** The number of points on the continuum (160 per server with equal weights). */
  get pointCount(): number {
    return this.#points.length;
  }

  /**
   * The 32-bit hash of a key that picks its point: md5 of its UTF-8 bytes,
   * bytes 0–3 little-endian (`"ketama-weighted"`), or one-at-a-time (`"ketama"`).
   *
   * @param key The key as the server sees it (strings are hashed as UTF-8).
   * @returns An unsigned 32-bit integer.
   */
  hash(key: string | Uint8Array): number {
    if (this.#variant === "ketama") return oneAtATime(key);
    return typeof key === "string" ? md5FirstWord(key) : word(md5(key), 0);
  }

  /**
   * The position in {@linkcode servers} of the server that owns `key`.
   *
   * @param key The key as sent to the server.
   * @returns An index into `servers`.
   */
  indexFor(key: string | Uint8Array): number {
    const hash = this.hash(key);
    const points = this.#points;
    let left = 0;
    let right = points.length;
    while (left < right) {
      const middle = (left + right) >>> 1;
      if (points[middle]! < hash) left = middle + 1;
      else right = middle;
    }
    return this.#owners[right === points.length ? 0 : right]!;
  }

  /**
   * The address of the server that owns `key`.
   *
   * @param key The key as sent to the server.
   * @returns One of {@linkcode servers}.
   */
  serverFor(key: string | Uint8Array): string {
    return this.servers[this.indexFor(key)]!;
  }

  /**
   * Splits a batch of keys by server, keeping each key's position.
   *
   * @param keys The batch.
   * @returns One group per server that owns at least one key, in order of first key.
   */
  group(keys: readonly string[]): ServerGroup[] {
    const groups = new Map<number, ServerGroup>();
    keys.forEach((key, position) => {
      const index = this.indexFor(key);
      let group = groups.get(index);
      if (!group) {
        groups.set(index, group = { address: this.servers[index]!, keys: [], indices: [] });
      }
      group.keys.push(key);
      group.indices.push(position);
    });
    return [...groups.values()];
  }

  /**
   * The ring without one server (libmemcached's ejection of a dead server):
   * its keys move to the others, every other key stays where it was.
   *
   * @param address One of {@linkcode servers}.
   * @returns A new ring over the remaining servers, with their weights.
   * @throws {RangeError} `address` is not on the ring, or is its last server.
   */
  without(address: string): KetamaRing {
    const index = this.servers.indexOf(address);
    if (index === -1) {
      throw new RangeError(`Cannot remove memcached server "${address}": it is not on the ring`);
    }
    if (this.servers.length === 1) {
      throw new RangeError(`Cannot remove memcached server "${address}": it is the last one`);
    }
    const rest = this.servers.flatMap((a, i) =>
      i === index ? [] : [{ address: a, weight: this.#weights[i]! }]
    );
    return new KetamaRing(rest, { variant: this.#variant });
  }
}
