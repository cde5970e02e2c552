/**
 * A minimal client for memcached's text protocol over `Deno.connect`, for
 * what memjs 1.3.2 lacks: a multi-key `get` (one round trip for any number of
 * keys on a server), `flush_all`, and the meta commands that read an item's
 * remaining ttl and CAS. One connection per server; commands on it run one
 * after another, each bounded by the deadline of the call that made it,
 * counted from when the call was made (not from when its turn came).
 *
 * @module
 */
import { CacheConnectionError, CacheError } from "../../cache.ts";
import { withDeadline } from "../_toolkit/deadline.ts";
import { grown, writeAll } from "../_toolkit/io.ts";

/** One item of a `get` reply. */
export interface Item {
  flags: number;
  value: Uint8Array;
}

/** An item read by `mg`: its flags, bytes, remaining ttl in s (-1: none) and CAS. */
export interface MetaItem extends Item {
  ttl: number;
  cas: string;
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
  #busy = false;
  /** Commands queued behind the one in flight. */
  #waiting = 0;
  #closed = false;
  #expired = false;
  /** Whether the command in flight got any byte back. */
  #received = false;
  #deadline = 0;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #watchdogAt = 0;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  /** Describes the server; nothing is opened yet. */
  constructor(host: string, port: number, timeout: number) {
    this.host = host;
    this.port = port;
    this.#timeout = timeout;
  }

  /**
   * Reads `keys` (plain memcached keys, repeats allowed) with pipelined `get` lines
   * in one write; resolves to their items in the same order (`undefined` for
   * misses).
   */
  getMany(
    what: string,
    keys: readonly string[],
    deadline: number = this.#from(),
  ): Promise<(Item | undefined)[]> {
    let command = "";
    let lines = 0;
    for (let i = 0; i < keys.length; i += KEYS_PER_LINE) {
      command += `get ${keys.slice(i, i + KEYS_PER_LINE).join(" ")}\r\n`;
      lines++;
    }
    return this.#run(what, deadline, ascii.encode(command), async () => {
      for (;;) {
        // A complete reply ends with "END\r\n": parse only then (or on an error line).
        const b = this.#buf;
        const e = this.#end;
        const ended = e - this.#start >= 5 && b[e - 5] === 0x45 && b[e - 4] === 0x4e &&
          b[e - 3] === 0x44 && b[e - 1] === 0x0a;
        const failed = e > this.#start && b[this.#start] !== 0x56; // not "VALUE"
        const items = ended || failed ? this.#parseValues(keys, lines) : undefined;
        if (items) return items;
        await this.#fill();
      }
    });
  }

  /**
   * Parses `lines` complete `get` replies from the buffer, or returns
   * `undefined` (consuming nothing) when more bytes are needed. memcached
   * answers hits in the order they were asked for, so each returned key is
   * matched by scanning forward through `keys`, without making strings.
   */
  #parseValues(keys: readonly string[], lines: number): (Item | undefined)[] | undefined {
    const buf = this.#buf;
    const end = this.#end;
    // Per key: its flags and where its value starts (-1: a miss).
    const flags = new Array<number>(keys.length);
    const starts = new Array<number>(keys.length).fill(-1);
    const lengths = new Array<number>(keys.length);
    let at = this.#start;
    let next = 0;
    for (let ended = 0; ended < lines;) {
      const eol = buf.indexOf(0x0a, at);
      if (eol < 0 || eol >= end) return undefined;
      if (eol - at === 4 && buf[at] === 0x45 && buf[at + 1] === 0x4e && buf[at + 2] === 0x44) {
        ended++; // "END"
        at = eol + 1;
        continue;
      }
      if (buf[at] !== 0x56 || buf[at + 5] !== 0x20) { // not "VALUE "
        throw new Error(`unexpected reply "${latin1.decode(buf.subarray(at, eol - 1))}"`);
      }
      let p = at + 6;
      const keyStart = p;
      while (buf[p] !== 0x20 && p < eol) p++;
      const keyEnd = p++;
      let itemFlags = 0;
      while (buf[p] !== 0x20 && p < eol) itemFlags = itemFlags * 10 + buf[p++]! - 0x30;
      p++;
      let length = 0;
      while (p < eol - 1 && buf[p] !== 0x20) length = length * 10 + buf[p++]! - 0x30;
      const from = eol + 1;
      if (end - from < length + 2) {
        this.#reserve(from - this.#start + length + 2);
        return undefined;
      }
      while (next < keys.length && !sameKey(buf, keyStart, keyEnd, keys[next]!)) next++;
      if (next === keys.length) {
        throw new Error(`unexpected key "${latin1.decode(buf.subarray(keyStart, keyEnd))}"`);
      }
      flags[next] = itemFlags;
      lengths[next] = length;
      starts[next++] = from;
      at = from + length + 2;
    }
    // One copy for the whole reply (the buffer is reused); values are views into it.
    const base = this.#start;
    const copy = buf.slice(base, at);
    const found: (Item | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const from = starts[i]!;
      if (from < 0) continue;
      found[i] = { flags: flags[i]!, value: copy.subarray(from - base, from - base + lengths[i]!) };
    }
    this.#start = at;
    return found;
  }

  /** Makes room for `total` bytes from the start of the unread data. */
  #reserve(total: number): void {
    if (this.#buf.length - this.#start >= total) return;
    this.#buf = grown(
      this.#buf.subarray(this.#start, this.#end),
      Math.max(this.#buf.length * 2, total),
    );
    this.#end -= this.#start;
    this.#start = 0;
  }

  /** Runs `flush_all`: every item on this server becomes invalid. */
  flushAll(what: string, deadline: number = this.#from()): Promise<void> {
    return this.#run(what, deadline, ascii.encode("flush_all\r\n"), async () => {
      const line = await this.#line();
      if (line !== "OK") throw new Error(`unexpected reply "${line}"`);
    });
  }

  /** Reads `key` (a plain memcached key) with its flags, remaining ttl and CAS; `undefined` on a miss. */
  metaGet(what: string, key: string, deadline: number): Promise<MetaItem | undefined> {
    return this.#run(what, deadline, ascii.encode(`mg ${key} v f t c\r\n`), async () => {
      const line = await this.#line();
      if (line === "EN") return undefined;
      const match = /^VA (\d+) (.*)$/.exec(line);
      if (!match) throw new Error(`unexpected reply "${line}"`);
      const length = Number(match[1]);
      const tokens = new Map(match[2]!.split(" ").map((t) => [t[0], t.slice(1)]));
      while (this.#end - this.#start < length + 2) {
        this.#reserve(length + 2);
        await this.#fill();
      }
      const value = this.#buf.slice(this.#start, this.#start + length);
      this.#start += length + 2;
      return {
        flags: Number(tokens.get("f")),
        ttl: Number(tokens.get("t")),
        cas: tokens.get("c") ?? "",
        value,
      };
    });
  }

  /**
   * Replaces `key` with `value` (flags and expiration given) only if its CAS
   * is still `cas`; `true` when stored, `false` when the item changed or went.
   */
  metaSetIfCas(
    what: string,
    key: string,
    value: Uint8Array,
    flags: number,
    expiration: number,
    cas: string,
    deadline: number,
  ): Promise<boolean> {
    const head = ascii.encode(`ms ${key} ${value.length} C${cas} F${flags} T${expiration}\r\n`);
    const command = new Uint8Array(head.length + value.length + 2);
    command.set(head);
    command.set(value, head.length);
    command.set([0x0d, 0x0a], head.length + value.length);
    return this.#run(what, deadline, command, async () => {
      const line = await this.#line();
      if (line === "HD") return true;
      if (line === "EX" || line === "NF" || line === "NS") return false;
      throw new Error(`unexpected reply "${line}"`);
    });
  }

  /**
   * The remaining ttl of `key` (a plain memcached key) in seconds, `-1` when it never
   * expires, `undefined` on a miss: `mg <key> t`, which returns no value.
   */
  metaTtl(what: string, key: string, deadline: number): Promise<number | undefined> {
    return this.#run(what, deadline, ascii.encode(`mg ${key} t\r\n`), async () => {
      const line = await this.#line();
      if (line === "EN") return undefined;
      const match = /^HD(?: .*)? t(-1|\d+)(?: |$)/.exec(line);
      if (!match) throw new Error(`unexpected reply "${line}"`);
      return Number(match[1]);
    });
  }

  /**
   * Closes for good: commands waiting in the queue reject with the closed
   * error and never open a connection.
   */
  shutdown(): void {
    this.#closed = true;
    this.close();
  }

  /** Closes the connection (a later command opens a new one). */
  close(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    this.#start = this.#end = 0;
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }

  #from(): number {
    return performance.now() + this.#timeout;
  }

  /**
   * Queues one command. Its deadline runs from the call, so a call waiting
   * behind a silent server's command fails at its own deadline without
   * waiting for its turn (the queue still sends commands one at a time).
   */
  #run<T>(
    what: string,
    deadline: number,
    command: Uint8Array,
    read: () => Promise<T>,
  ): Promise<T> {
    if (!this.#busy && this.#waiting === 0) {
      // Nothing ahead of it: it starts now, and the watchdog alone bounds it.
      const run = this.#exchange(what, deadline, command, read);
      this.#queue = run.catch(() => {});
      return run;
    }
    this.#waiting++;
    let late: (reason: Error) => void = () => {};
    const waited = new Promise<never>((_, reject) => late = reject);
    const timer = setTimeout(
      () => late(this.#timedOut(what)),
      Math.max(0, deadline - performance.now()),
    );
    Deno.unrefTimer(timer);
    const turn = this.#queue.then(() => {
      this.#waiting--;
      clearTimeout(timer);
      return this.#exchange(what, deadline, command, read);
    });
    this.#queue = turn.catch(() => {});
    return Promise.race([turn, waited]).finally(() => clearTimeout(timer));
  }

  #timedOut(what: string): CacheConnectionError {
    return new CacheConnectionError(
      `Cannot ${what}: memcached at ${this.host}:${this.port} did not answer within ${this.#timeout} ms`,
    );
  }

  async #exchange<T>(
    what: string,
    deadline: number,
    command: Uint8Array,
    read: () => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new CacheError(`Cannot ${what}: the cache is closed`);
    // Its deadline passed while it waited: fail without sending it.
    if (deadline <= performance.now()) throw this.#timedOut(what);
    this.#deadline = deadline;
    this.#busy = true;
    try {
      for (let attempt = 1;; attempt++) {
        const reused = this.#conn !== undefined;
        this.#expired = false;
        this.#received = false;
        try {
          this.#conn ??= await this.#connect();
          // Reuse the armed watchdog unless it would fire after this deadline.
          if (this.#watchdog === undefined || this.#watchdogAt > deadline) {
            clearTimeout(this.#watchdog);
            this.#watchdog = this.#arm(deadline - performance.now());
          }
          await writeAll(this.#conn!, command);
          return await read();
        } catch (error) {
          this.close();
          // An idle connection the server closed (it restarted): nothing came back, so
          // the command ran at most once; send it once more on a new connection. Every
          // text command is safe to repeat (reads, flush_all, a CAS-guarded set).
          const stale = reused && attempt === 1 && !this.#expired && !this.#received &&
            !this.#closed && deadline > performance.now();
          if (stale) continue;
          const why = this.#expired
            ? `did not answer within ${this.#timeout} ms`
            : `failed: ${(error as Error).message}`;
          throw new CacheConnectionError(
            `Cannot ${what}: memcached at ${this.host}:${this.port} ${why}`,
            { cause: error },
          );
        }
      }
    } finally {
      this.#busy = false;
    }
  }

  /**
   * One unref'd timer per connection watches the command in flight: past its
   * deadline it closes the connection, which fails the pending read (the
   * caller has its own timer in `#run`, for the time it waits in the queue).
   */
  #arm(ms: number): ReturnType<typeof setTimeout> {
    this.#watchdogAt = performance.now() + ms;
    const timer = setTimeout(() => {
      this.#watchdog = undefined;
      if (!this.#busy) return;
      const left = this.#deadline - performance.now();
      if (left > 0) {
        this.#watchdog = this.#arm(left);
        return;
      }
      this.#expired = true;
      this.close();
    }, Math.max(0, ms));
    Deno.unrefTimer(timer);
    return timer;
  }

  /** Opens the connection within the remaining time (`Deno.connect` has no timeout of its own). */
  async #connect(): Promise<Deno.TcpConn> {
    let late = false;
    const connecting = Deno.connect({ hostname: this.host, port: this.port });
    try {
      return await withDeadline(connecting, this.#deadline - performance.now(), () => {
        late = true;
        this.#expired = true;
        return new Error("connect timed out");
      });
    } finally {
      if (late) connecting.then((conn) => conn.close(), () => {});
    }
  }

  async #fill(): Promise<void> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const live = this.#end - this.#start;
      const unread = this.#buf.subarray(this.#start, this.#end);
      if (live * 2 > this.#buf.length) this.#buf = grown(unread, this.#buf.length * 2);
      else this.#buf.set(unread); // room enough: the unread bytes move to the front
      this.#start = 0;
      this.#end = live;
    }
    const conn = this.#conn;
    if (!conn) throw new Error("connection closed");
    const n = await conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("connection closed by the server");
    this.#received = true;
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
}

function sameKey(buf: Uint8Array, start: number, end: number, key: string): boolean {
  if (end - start !== key.length) return false;
  for (let i = 0; i < key.length; i++) {
    if (buf[start + i] !== key.charCodeAt(i)) return false;
  }
  return true;
}
