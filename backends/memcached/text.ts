/**
 * A minimal client for memcached's text protocol over `Deno.connect`, for
 * what memjs 1.3.2 lacks: a multi-key `get` (one round trip for any number of
 * keys on a server) and `flush_all`. One connection per server; commands on
 * it run one after another, each bounded by the timeout.
 *
 * @module
 */
import { CacheConnectionError } from "../../cache.ts";

/** One item of a `get` reply. */
export interface Item {
  flags: number;
  value: Uint8Array;
}

/** Keys per `get` line: long lines are split, and all lines go out in one write. */
const KEYS_PER_LINE = 100;

const ascii = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A text-protocol connection to one memcached server, opened on first use. */
export class TextConnection {
  readonly host: string;
  readonly port: number;
  #timeout: number;
  #conn: Deno.TcpConn | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  /** Describes the server; nothing is opened yet. */
  constructor(host: string, port: number, timeout: number) {
    this.host = host;
    this.port = port;
    this.#timeout = timeout;
  }

  /** Every item found among `keys` (plain memcached keys), by key. */
  getMany(what: string, keys: readonly string[]): Promise<Map<string, Item>> {
    let command = "";
    let lines = 0;
    for (let i = 0; i < keys.length; i += KEYS_PER_LINE) {
      command += `get ${keys.slice(i, i + KEYS_PER_LINE).join(" ")}\r\n`;
      lines++;
    }
    return this.#run(what, ascii.encode(command), async () => {
      const items = new Map<string, Item>();
      for (let ended = 0; ended < lines;) {
        const line = await this.#line();
        if (line === "END") {
          ended++;
          continue;
        }
        const parts = line.split(" ");
        if (parts[0] !== "VALUE" || parts.length < 4) throw new Error(`unexpected reply "${line}"`);
        const value = await this.#bytes(Number(parts[3]));
        items.set(parts[1]!, { flags: Number(parts[2]), value });
      }
      return items;
    });
  }

  /** Runs `flush_all`: every item on this server becomes invalid. */
  flushAll(what: string): Promise<void> {
    return this.#run(what, ascii.encode("flush_all\r\n"), async () => {
      const line = await this.#line();
      if (line !== "OK") throw new Error(`unexpected reply "${line}"`);
    });
  }

  /** Closes the connection (a later command opens a new one). */
  close(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#start = this.#end = 0;
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }

  #run<T>(what: string, command: Uint8Array, read: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => this.#exchange(what, command, read));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #exchange<T>(what: string, command: Uint8Array, read: () => Promise<T>): Promise<T> {
    const where = `memcached at ${this.host}:${this.port}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.close();
        reject(
          new CacheConnectionError(
            `Cannot ${what}: ${where} did not answer within ${this.#timeout} ms`,
          ),
        );
      }, this.#timeout);
    });
    try {
      return await Promise.race([
        (async () => {
          this.#conn ??= await Deno.connect({ hostname: this.host, port: this.port });
          await this.#write(command);
          return await read();
        })(),
        timedOut,
      ]);
    } catch (error) {
      if (error instanceof CacheConnectionError) throw error;
      this.close();
      throw new CacheConnectionError(
        `Cannot ${what}: ${where} failed: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn!.write(bytes.subarray(written));
    }
  }

  async #fill(): Promise<void> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const live = this.#end - this.#start;
      const next = live * 2 > this.#buf.length ? new Uint8Array(this.#buf.length * 2) : this.#buf;
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    const conn = this.#conn;
    if (!conn) throw new Error("connection closed");
    const n = await conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("connection closed by the server");
    this.#end += n;
  }

  async #line(): Promise<string> {
    for (let scanned = 0;;) {
      const at = this.#buf.subarray(this.#start + scanned, this.#end).indexOf(0x0a);
      if (at >= 0) {
        const end = this.#start + scanned + at;
        const line = latin1.decode(this.#buf.subarray(this.#start, end - 1));
        this.#start = end + 1;
        if (
          line.startsWith("SERVER_ERROR") || line.startsWith("CLIENT_ERROR") || line === "ERROR"
        ) {
          throw new Error(line);
        }
        return line;
      }
      scanned = this.#end - this.#start;
      await this.#fill();
    }
  }

  async #bytes(length: number): Promise<Uint8Array> {
    while (this.#end - this.#start < length + 2) {
      if (this.#buf.length - this.#start < length + 2) {
        const next = new Uint8Array(Math.max(this.#buf.length * 2, length + 2));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#end -= this.#start;
        this.#start = 0;
        this.#buf = next;
      }
      await this.#fill();
    }
    const value = this.#buf.slice(this.#start, this.#start + length);
    this.#start += length + 2;
    return value;
  }
}
