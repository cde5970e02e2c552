/**
 * Single-key commands of memcached's binary protocol, written to the server
 * the cache chose (its ring) over that server's memjs connection, with a
 * bounded wait.
 *
 * memjs 1.3.2's high-level methods cannot carry what the cache needs: `set`
 * always writes flags 0 ("TODO: support flags"), turns an expiration of 0
 * into the client's default `expires`, runs values through the client's own
 * serializer, and `increment` writes a 32-bit amount and misreads 64-bit
 * results. So this file encodes the requests itself and uses memjs for what
 * it does well: connections, SASL, socket timeouts (the server is chosen by
 * the cache, `pool.ts`).
 *
 * @module
 */
import { _opAndKey, CacheConnectionError, CacheError } from "../../cache.ts";

/** Binary-protocol opcodes used here. */
export const OP = {
  get: 0x00,
  set: 0x01,
  add: 0x02,
  delete: 0x04,
  increment: 0x05,
  decrement: 0x06,
} as const;

/** Binary-protocol response statuses used here. */
export const STATUS = {
  ok: 0x00,
  notFound: 0x01,
  exists: 0x02,
  tooLarge: 0x03,
  notStored: 0x05,
  nonNumeric: 0x06,
  outOfMemory: 0x82,
} as const;

/**
 * The part of a memjs 1.3.x `Client` (from `memjs.Client.create(...)`) that
 * `MemcachedCache` uses. memjs ships no types, so any client it
 * creates fits.
 */
export interface MemjsClient {
  /**
   * Its servers in order; `getServer` returns an index into them (used with
   * `distribution: "modulo"`).
   */
  servers: MemjsServer[];
  /** The last request sequence number (advanced by `incrSeq`). */
  seq: number;
  /** Its options; `failover` must be off, or keys would move between servers. */
  options: { failover?: boolean };
  /** Advances `seq` for a new request. */
  incrSeq(): void;
  /** The index in `servers` of the server for `key` (overridable in memjs). */
  getServer(key: string): number;
  /**
   * Sends an encoded binary-protocol request for `key` to the server memjs
   * chooses (the cache does not use it; its presence tells a memjs client).
   */
  perform(
    key: string,
    request: Uint8Array,
    seq: number,
    callback: (error: unknown, response: MemjsResponse | null) => void,
    retries?: number,
  ): void;
  /** Closes its connections. */
  close(): void;
}

/**
 * One server of a memjs 1.3.x client: the cache writes requests to the server
 * it chose itself (the ring), with memjs's per-server callbacks.
 */
export interface MemjsServer {
  /** The host, as given. */
  host: string;
  /** The port. */
  port: number;
  /** memjs's socket, destroyed by `close()` when the cache made the client. */
  _socket?: { destroy(): void } | undefined;
  /** Registers the callback of the response with opaque `seq`. */
  onResponse(seq: number, callback: (response: MemjsResponse) => void): void;
  /** Registers the callback of a connection failure while `seq` is pending. */
  onError(seq: number, callback: (error: unknown) => void): void;
  /** Writes a request (connecting first when needed). */
  write(request: Uint8Array): void;
}

/** A parsed binary-protocol response as memjs hands it to `perform`'s callback. */
export interface MemjsResponse {
  /** The header; `status` is 0 on success, `cas` the item's 8-byte CAS. */
  header: { status: number; cas?: Uint8Array };
  /** The extras (for `get`: the 4-byte flags). */
  extras: Uint8Array;
  /** The value. */
  val: Uint8Array;
}

/** A response reduced to what the cache reads. */
export interface Reply {
  status: number;
  flags: number;
  value: Uint8Array;
  /** The item's CAS (0 when the reply has none). */
  cas: bigint;
}

const ascii = new TextEncoder();

/**
 * Encodes one request: the 24-byte header, extras, key and value. `opaque`
 * is memjs's sequence number, which it uses to match the response; a `cas`
 * other than 0 makes the request apply only to the item with that CAS.
 */
export function encodeRequest(
  opcode: number,
  key: string,
  extras: Uint8Array,
  value: Uint8Array,
  opaque: number,
  cas = 0n,
): Uint8Array {
  const keyBytes = ascii.encode(key);
  const body = extras.length + keyBytes.length + value.length;
  const request = new Uint8Array(24 + body);
  const view = new DataView(request.buffer);
  view.setUint8(0, 0x80);
  view.setUint8(1, opcode);
  view.setUint16(2, keyBytes.length);
  view.setUint8(4, extras.length);
  view.setUint32(8, body);
  view.setUint32(12, opaque >>> 0);
  view.setBigUint64(16, cas);
  request.set(extras, 24);
  request.set(keyBytes, 24 + extras.length);
  request.set(value, 24 + extras.length + keyBytes.length);
  return request;
}

/** Extras of `set`/`add`: flags and expiration. */
export function storeExtras(flags: number, expiration: number): Uint8Array {
  const extras = new Uint8Array(8);
  const view = new DataView(extras.buffer);
  view.setUint32(0, flags >>> 0);
  view.setUint32(4, expiration >>> 0);
  return extras;
}

/**
 * Extras of `increment`/`decrement`: a 64-bit amount, the 64-bit value to
 * create a missing key with, and that key's expiration.
 */
export function counterExtras(amount: bigint, initial: bigint, expiration: number): Uint8Array {
  const extras = new Uint8Array(20);
  const view = new DataView(extras.buffer);
  view.setBigUint64(0, amount);
  view.setBigUint64(8, initial);
  view.setUint32(16, expiration >>> 0);
  return extras;
}

/** Reads the 64-bit counter value of an `increment`/`decrement` reply. */
export function counterValue(reply: Reply): bigint {
  return new DataView(reply.value.buffer, reply.value.byteOffset, 8).getBigUint64(0);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Sends requests through a memjs client, each waiting at most `timeout` ms.
 * One timer watches every pending request (a timer per request would cost
 * more than the rest of the client-side work); it is unref'd, and `close()`
 * stops it.
 */
export class Channel {
  readonly client: MemjsClient;
  readonly timeout: number;
  #pending = new Map<number, { deadline: number; fail: (why: string) => void }>();
  #next = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Wraps `client`; requests wait at most `timeout` ms. */
  constructor(client: MemjsClient, timeout: number) {
    this.client = client;
    this.timeout = timeout;
  }

  /**
   * Sends one request for `key` (already mapped) to server `index` of the
   * client. Written to that server directly (memjs's `perform` would choose
   * the server by its own hash), and never retried (a retried `add` or
   * `increment` could apply twice).
   *
   * @param index The server, an index into `client.servers`.
   * @param op The operation, for messages (`"get"`).
   * @param userKey The caller's key, for messages (`undefined` for internal keys).
   * @param deadline The `performance.now()` by which the public call must settle.
   * @param cas Apply only to the item with this CAS (`0n`: any); a mismatch is status `exists`.
   * @throws {CacheConnectionError} The server is unreachable, dropped the
   * connection or did not answer in time.
   * @throws {CacheError} The channel was closed.
   */
  send(
    index: number,
    op: string,
    userKey: string | undefined,
    key: string,
    opcode: number,
    extras: Uint8Array,
    value: Uint8Array,
    deadline: number = performance.now() + this.timeout,
    cas = 0n,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const client = this.client;
      if (this.#closed) {
        const what = _opAndKey(op, userKey);
        return reject(new CacheError(`Cannot ${what}: the cache is closed`));
      }
      const server = client.servers[index]!;
      const fail = (why: string, cause?: unknown) => {
        const what = _opAndKey(op, userKey);
        reject(
          new CacheConnectionError(
            `Cannot ${what}: memcached at ${server.host}:${server.port} ${why}`,
            {
              cause,
            },
          ),
        );
      };
      const left = deadline - performance.now();
      if (left <= 0) return fail(`did not answer within ${this.timeout} ms`);
      const id = this.#next++;
      this.#pending.set(id, { deadline, fail });
      this.#timer ??= this.#arm(left);
      client.incrSeq();
      const seq = client.seq;
      const request = encodeRequest(opcode, key, extras, value, seq, cas);
      const done = (error: unknown, response: MemjsResponse | null) => {
        if (!this.#pending.delete(id)) return; // timed out already
        if (error || !response) return fail(`failed: ${message(error)}`, error);
        const extras = response.extras;
        const flags = extras.length >= 4
          ? new DataView(extras.buffer, extras.byteOffset, 4).getUint32(0)
          : 0;
        // A plain view, not memjs's Buffer: Buffer#slice does not copy.
        const val = response.val;
        const value = new Uint8Array(val.buffer, val.byteOffset, val.byteLength);
        const casBytes = response.header.cas;
        const itemCas = casBytes?.length === 8
          ? new DataView(casBytes.buffer, casBytes.byteOffset, 8).getBigUint64(0)
          : 0n;
        resolve({ status: response.header.status, flags, value, cas: itemCas });
      };
      server.onResponse(seq, (response) => done(null, response));
      server.onError(seq, (error) => done(error ?? new Error("connection failed"), null));
      server.write(request);
    });
  }

  /** Stops the timer, fails the requests still waiting and refuses new ones. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const entry of this.#pending.values()) entry.fail("did not answer before close()");
    this.#pending.clear();
  }

  #arm(ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      let next = Infinity;
      // Deadlines are per public call, so not in insertion order: check them all.
      for (const [id, entry] of this.#pending) {
        if (entry.deadline > now) {
          next = Math.min(next, entry.deadline);
          continue;
        }
        this.#pending.delete(id);
        entry.fail(`did not answer within ${this.timeout} ms`);
      }
      if (next !== Infinity) this.#timer = this.#arm(next - now);
    }, Math.max(0, ms));
    Deno.unrefTimer(timer);
    return timer;
  }
}

/** Throws a `CacheError` naming the operation and key unless `reply.status` is one of `expected`. */
export function expectStatus(
  reply: Reply,
  op: string,
  key: string | undefined,
  expected: readonly number[],
): void {
  if (expected.includes(reply.status)) return;
  const what = _opAndKey(op, key);
  throw new CacheError(
    `Cannot ${what}: memcached answered status 0x${reply.status.toString(16)} (${
      new TextDecoder().decode(reply.value)
    })`,
  );
}
