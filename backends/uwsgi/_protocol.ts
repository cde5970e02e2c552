/**
 * The uwsgi wire protocol as uWSGI's cache plugin speaks it (modifier1 111,
 * modifier2 17): packet encoding and decoding, and one request per TCP
 * connection with a bounded timeout.
 *
 * A packet is a 4-byte header `[modifier1][u16 LE size of the vars][modifier2]`,
 * then the vars (`u16 LE length, bytes` for a name, the same for its value,
 * repeated), then, for `set`/`update` requests and `get` replies, a body of
 * `size` bytes.
 *
 * @module
 */
import { watchdog } from "../_toolkit/deadline.ts";
import { grown, writeAll } from "../_toolkit/io.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** uWSGI's cache plugin. */
export const MODIFIER1_CACHE = 111;
/** The cache plugin's "magic" interface: vars `cmd`, `key`, `cache`, `expires`, `size`. */
export const MODIFIER2_MAGIC = 17;
/** The vars block's length is a u16. */
const MAX_VARS = 0xffff;

/** A decoded packet: its vars and the body that followed them. */
export interface UwsgiPacket {
  /** The vars, by name. */
  vars: Map<string, string>;
  /** The body (`size` bytes); empty when there is none. */
  body: Uint8Array;
}

/** Why a request failed below the protocol: could not connect, timed out, or the connection broke. */
export type UwsgiFailure = "connect" | "timeout" | "reset";

/** A request that failed at the transport level; `failure` says how. */
export class UwsgiTransportError extends Error {
  /** How the request failed. */
  readonly failure: UwsgiFailure;
  /**
   * Creates an error.
   *
   * @param failure How the request failed.
   * @param message What happened.
   * @param options `cause`: the underlying error.
   */
  constructor(failure: UwsgiFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.failure = failure;
  }
}

/**
 * Encodes a request: the header, `vars` (strings or raw bytes) in order, then `body`.
 *
 * @throws {RangeError} When the vars do not fit the u16 size field.
 */
export function encodePacket(
  vars: readonly (readonly [string, string | Uint8Array])[],
  body?: Uint8Array,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const [name, value] of vars) {
    for (const part of [name, value]) {
      const bytes = typeof part === "string" ? encoder.encode(part) : part;
      if (bytes.length > MAX_VARS) {
        throw new RangeError(`uwsgi var is ${bytes.length} bytes, the limit is ${MAX_VARS}`);
      }
      parts.push(bytes);
      size += 2 + bytes.length;
    }
  }
  if (size > MAX_VARS) {
    throw new RangeError(`uwsgi vars are ${size} bytes, the limit is ${MAX_VARS}`);
  }
  const packet = new Uint8Array(4 + size + (body?.length ?? 0));
  packet[0] = MODIFIER1_CACHE;
  packet[1] = size & 0xff;
  packet[2] = size >> 8;
  packet[3] = MODIFIER2_MAGIC;
  let at = 4;
  for (const bytes of parts) {
    packet[at++] = bytes.length & 0xff;
    packet[at++] = bytes.length >> 8;
    packet.set(bytes, at);
    at += bytes.length;
  }
  if (body) packet.set(body, at);
  return packet;
}

/**
 * Decodes the vars block of a packet.
 *
 * @throws {TypeError} When a length runs past the end of the block.
 */
export function decodeVars(block: Uint8Array): Map<string, string> {
  const vars = new Map<string, string>();
  let at = 0;
  const take = () => {
    if (at + 2 > block.length) throw new TypeError("uwsgi reply: truncated var length");
    const length = block[at]! | (block[at + 1]! << 8);
    at += 2;
    if (at + length > block.length) throw new TypeError("uwsgi reply: var runs past the packet");
    const text = decoder.decode(block.subarray(at, at + length));
    at += length;
    return text;
  };
  while (at < block.length) {
    const name = take();
    vars.set(name, take());
  }
  return vars;
}

/** Where to send requests, and how long one may take. */
export interface Endpoint {
  hostname: string;
  port: number;
  /** ms one public call may take, for every request it makes (and its wait for a connection). */
  timeout: number;
}

/** Reads into a growing buffer until `want` bytes are there or the peer closes. */
class Reader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(4096);
  length = 0;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
  /** `false` when the peer closed before `want` bytes arrived. */
  async fill(want: number): Promise<boolean> {
    if (want > this.#buf.length) {
      this.#buf = grown(this.#buf, Math.max(want, this.#buf.length * 2), this.length);
    }
    while (this.length < want) {
      const n = await this.#conn.read(this.#buf.subarray(this.length));
      if (n === null) return false;
      this.length += n;
    }
    return true;
  }
}

/** The error of a call whose deadline passed before uWSGI answered. */
export function timeoutError(
  endpoint: Endpoint,
  cause?: unknown,
  detail = "",
): UwsgiTransportError {
  const where = `${endpoint.hostname}:${endpoint.port}`;
  return new UwsgiTransportError(
    "timeout",
    `no reply from uWSGI at ${where} within ${endpoint.timeout} ms${detail}`,
    { cause },
  );
}

/**
 * Sends one request on a new connection and reads the reply.
 *
 * @param endpoint Where to send it.
 * @param packet The encoded request.
 * @param deadline When (`Date.now()` ms) the whole exchange must be over; default
 * `endpoint.timeout` from now. A caller making several requests for one call passes
 * the call's deadline to each.
 * @returns The reply, or `null` when the server closed without replying
 * (uWSGI's answer to a miss and to every failure it detects).
 * @throws {UwsgiTransportError} When the connection could not be made, broke,
 * or the deadline passed first.
 */
export async function request(
  endpoint: Endpoint,
  packet: Uint8Array,
  deadline: number = Date.now() + endpoint.timeout,
): Promise<UwsgiPacket | null> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw timeoutError(endpoint);
  const controller = new AbortController();
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  const disarm = watchdog(remaining, () => {
    timedOut = true;
    controller.abort();
    try {
      conn?.close();
    } catch {
      // already closed
    }
  });
  const where = `${endpoint.hostname}:${endpoint.port}`;
  try {
    try {
      conn = await Deno.connect({
        hostname: endpoint.hostname,
        port: endpoint.port,
        signal: controller.signal,
      });
    } catch (cause) {
      if (timedOut) throw timeoutError(endpoint, cause);
      throw new UwsgiTransportError(
        "connect",
        `cannot connect to uWSGI at ${where}: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (timedOut) {
      conn.close();
      throw timeoutError(endpoint);
    }
    try {
      await writeAll(conn, packet);
      const reader = new Reader(conn);
      if (!(await reader.fill(4))) {
        if (reader.length === 0) return null;
        throw new Error("the reply ended inside its header");
      }
      const head = reader.bytes;
      const varsSize = head[1]! | (head[2]! << 8);
      if (head[0] !== MODIFIER1_CACHE) {
        throw new Error(`the reply has modifier1 ${head[0]}, expected ${MODIFIER1_CACHE}`);
      }
      if (!(await reader.fill(4 + varsSize))) throw new Error("the reply ended inside its vars");
      const vars = decodeVars(reader.bytes.subarray(4, 4 + varsSize));
      const size = Number(vars.get("size") ?? 0);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`the reply has size ${size}`);
      if (!(await reader.fill(4 + varsSize + size))) {
        throw new Error(`the reply ended before its ${size}-byte body`);
      }
      const body = reader.bytes.slice(4 + varsSize, 4 + varsSize + size);
      return { vars, body };
    } catch (cause) {
      if (timedOut) throw timeoutError(endpoint, cause);
      throw new UwsgiTransportError(
        "reset",
        `the connection to uWSGI at ${where} broke: ${(cause as Error).message}`,
        { cause },
      );
    } finally {
      try {
        conn.close();
      } catch {
        // closed by the timer
      }
    }
  } finally {
    disarm();
  }
}
