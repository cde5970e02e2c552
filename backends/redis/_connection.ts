/**
 * The connection behind `RedisCache`: loads node-redis on first use, opens a
 * client that fails fast instead of queueing while the server is away, bounds
 * every wait by the cache's timeout, and opens a new client on the next call
 * after the old one lost its server.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { withDeadline as raceDeadline } from "../_toolkit/deadline.ts";
import {
  _opAndKey,
  CacheConnectionError,
  CacheError,
  redactCredentials,
  SerializationError,
} from "../../cache.ts";

/** The client package, by a full specifier so that any importer can load it. */
export const REDIS_CLIENT = "npm:redis@6.3.1";

/**
 * How the client package is loaded; tests replace `load` to delay or break
 * loading. A full `npm:` specifier (not the `"redis"` of this repository's
 * import map) resolves wherever `mod.ts` is imported from.
 */
export const clientLoader: { load: () => Promise<unknown> } = {
  // A non-literal specifier: the module graph of a program that imports mod.ts but never
  // connects to Redis does not resolve (or download) npm:redis.
  load: () => import(REDIS_CLIENT),
};

/**
 * Loads node-redis through {@linkcode clientLoader} and checks it has `need`
 * (`"createClient"`, `"createCluster"`); a failure is `fail(message)`, with the
 * loader's error as its cause.
 */
export async function loadRedisModule<M>(
  need: string,
  fail: (message: string, options?: ErrorOptions) => Error,
): Promise<M> {
  let module: unknown;
  try {
    module = await clientLoader.load();
  } catch (error) {
    throw fail(
      `cannot load the redis client ${REDIS_CLIENT}: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
  if (typeof (module as Record<string, unknown> | undefined)?.[need] !== "function") {
    throw fail(`cannot load the redis client ${REDIS_CLIENT}: no ${need}`);
  }
  return module as M;
}

/**
 * Connects a client of our own within `ms`; destroys it when that fails, or
 * when the cache was closed meanwhile (`closed()`), and throws.
 */
export async function connectOrDestroy(
  client: { connect(): Promise<unknown>; destroy(): void },
  ms: number,
  closed: () => boolean,
): Promise<void> {
  try {
    await withDeadline(client.connect(), ms);
  } catch (error) {
    client.destroy();
    throw error;
  }
  if (closed()) {
    client.destroy();
    throw new Error("the cache was closed while connecting");
  }
}

/** One argument of a Redis command. */
export type RedisArgument = string | Buffer;

/**
 * The parts of a node-redis (v5/v6) client that `RedisCache` uses; a client
 * from `createClient()` of `npm:redis` has them.
 *
 * @example Hand the cache a client of your own
 * ```ts ignore
 * import { createClient } from "npm:redis@6.3.1";
 * import { RedisCache, type RedisClientLike } from "@cachelib/cachelib";
 *
 * const client: RedisClientLike = createClient({ url: "redis://127.0.0.1:6379" });
 * await using cache = new RedisCache({ client });
 * ```
 */
export interface RedisClientLike {
  /** Whether the client is connected or connecting. */
  readonly isOpen: boolean;
  /** Connects the client. */
  connect(): Promise<unknown>;
  /** Sends one command. */
  sendCommand(
    args: ReadonlyArray<string | Uint8Array>,
    options?: { timeout?: number },
  ): Promise<unknown>;
  /** A view of the client whose commands use these options. */
  withCommandOptions(options: {
    typeMapping: Record<number, unknown>;
    timeout: number;
  }): RedisClientLike;
  /** Adds an event listener. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Removes an event listener. */
  off(event: "error", listener: (error: Error) => void): unknown;
  /** Closes the client after pending commands. */
  close(): Promise<void>;
  /** Closes the client now, failing pending commands. */
  destroy(): void;
}

/** What this module takes from `npm:redis`. */
interface RedisModule {
  createClient(options: Record<string, unknown>): RedisClientLike;
  createSentinel(options: Record<string, unknown>): RedisSentinelLike;
  ErrorReply: abstract new (...args: never[]) => Error;
  TimeoutError: abstract new (...args: never[]) => Error;
  RESP_TYPES: { BLOB_STRING: number };
}

/**
 * The code of a Redis error reply, its first word (`"MOVED"` of
 * `"MOVED 3999 127.0.0.1:6381"`, `"NOSCRIPT"`). Of a `CacheError` the backend
 * made from a reply, the code of the reply it carries as its `cause`; of a
 * `CacheConnectionError`, none.
 */
export function replyCode(error: unknown): string | undefined {
  if (error instanceof CacheConnectionError) return undefined; // not a reply
  if (error instanceof CacheError) return replyCode(error.cause);
  const message = (error as Error)?.message;
  if (typeof message !== "string") return undefined;
  return /^[A-Z]+(?= |$)/.exec(message)?.[0];
}

/** A wait that took longer than the timeout. */
export class DeadlineError extends Error {
  /** @param ms The timeout that passed. */
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** The client package could not be loaded (or not within the timeout). */
class ClientLoadError extends Error {}

/** `promise`, or a `DeadlineError` after `ms` (then `onTimeout` runs). */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout?: () => void,
): Promise<T> {
  return raceDeadline(promise, ms, () => {
    onTimeout?.();
    return new DeadlineError(ms);
  });
}

/**
 * One timer for many calls that share a timeout: calls wait in a queue in
 * the order their deadlines pass (same timeout, so arrival order), and one
 * timer at the head's deadline rejects what expired and re-arms for the next.
 * A call costs a queue entry, not a timer of its own (a timer per call cost
 * 1.1–1.6× a raw round trip, 4.8× for 200 concurrent gets). `cancel()` stops
 * the timer (on close).
 */
export class DeadlineQueue {
  /** The deadline in ms of every call. */
  readonly ms: number;
  #entries: Waiting<never, unknown>[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param ms The deadline in ms of every call. */
  constructor(ms: number) {
    this.ms = ms;
  }

  /** `promise`, or a `DeadlineError` after `ms`. */
  bound<T>(promise: Promise<T>): Promise<T> {
    return this.settle(promise, (value) => value, (error) => error);
  }

  /**
   * `done(value)` of `promise`, or rejects with `fail(error)` when it
   * rejects or when `ms` pass first (then `error` is a `DeadlineError`).
   * One promise per call: no chain of `then`s on top.
   */
  settle<R, T>(
    promise: Promise<R>,
    done: (value: R) => T,
    fail: (error: unknown) => unknown,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = new Waiting(performance.now() + this.ms, resolve, reject, done, fail);
      this.#entries.push(entry as unknown as Waiting<never, unknown>);
      this.#timer ??= setTimeout(this.#fire, this.ms);
      promise.then(entry.ok, entry.error);
    });
  }

  #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      if (!entry.settled && entry.at > now) break;
      this.#head++;
      if (!entry.settled) entry.error(new DeadlineError(this.ms));
    }
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    this.#timer = setTimeout(this.#fire, Math.max(0, this.#entries[this.#head]!.at - now));
  };

  /** Stops the timer; calls still waiting are no longer bounded. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** One call in a {@linkcode DeadlineQueue}: settles once, by its reply or by its deadline. */
class Waiting<R, T> {
  settled = false;
  constructor(
    readonly at: number,
    private resolve: ((value: T) => void) | undefined,
    private reject: ((error: unknown) => void) | undefined,
    private done: ((value: R) => T) | undefined,
    private fail: ((error: unknown) => unknown) | undefined,
  ) {}

  ok = (value: R): void => {
    if (this.settled) return;
    this.settled = true;
    try {
      this.resolve!(this.done!(value));
    } catch (error) {
      this.reject!(error);
    }
    this.resolve =
      this.reject =
      this.done =
      this.fail =
        undefined;
  };

  error = (error: unknown): void => {
    if (this.settled) return;
    this.settled = true;
    this.reject!(this.fail!(error));
    this.resolve =
      this.reject =
      this.done =
      this.fail =
        undefined;
  };
}

/**
 * Whether `value` looks like a node-redis Sentinel client (from `createSentinel`).
 *
 * @param value Anything.
 * @returns `true` for an object with the sentinel client's methods.
 */
export function isSentinelClient(value: unknown): value is RedisSentinelLike {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.getMasterNode === "function" && typeof v.getSentinelNode === "function" &&
    typeof v.sendCommand === "function" && typeof v.connect === "function";
}

/**
 * Whether `value` looks like a node-redis single-node client (from `createClient`).
 *
 * @param value Anything.
 * @returns `true` for an object with the client's methods.
 */
export function isNodeClient(value: unknown): value is RedisClientLike {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.sendCommand === "function" && typeof v.withCommandOptions === "function" &&
    typeof v.connect === "function" && typeof v.close === "function" && "isOpen" in v &&
    !isSentinelClient(value) && !("masters" in v);
}

/** The parts of a node-redis Sentinel client (from `createSentinel`) that `RedisCache` uses. */
export interface RedisSentinelLike {
  /** Whether the client is connected or connecting. */
  readonly isOpen: boolean;
  /** Connects (asks the sentinels for the master, then connects to it). */
  connect(): Promise<unknown>;
  /** Sends one command, to the master unless `isReadonly` and replica reads are on. */
  sendCommand(
    isReadonly: boolean | undefined,
    args: ReadonlyArray<string | Uint8Array>,
    options?: object,
  ): Promise<unknown>;
  /** A view of the client whose commands use these options. */
  withCommandOptions(options: object): RedisSentinelLike;
  /** The master the client uses now. */
  getMasterNode(): unknown;
  /** The sentinel the client listens to. */
  getSentinelNode(): unknown;
  /** Adds an event listener. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Removes an event listener. */
  off(event: "error", listener: (error: Error) => void): unknown;
  /** Closes the client after pending commands. */
  close(): Promise<unknown>;
  /** Closes the client now. */
  destroy(): unknown;
}

/**
 * A Sentinel client seen as a single-node client: every command goes to the
 * master the sentinels name (`isReadonly` false), so nothing is written to a
 * demoted master.
 */
function sentinelView(sentinel: RedisSentinelLike): RedisClientLike {
  return {
    get isOpen() {
      return sentinel.isOpen;
    },
    connect: () => sentinel.connect(),
    sendCommand: (args, options) => sentinel.sendCommand(false, args, options),
    withCommandOptions: (options) => sentinelView(sentinel.withCommandOptions(options)),
    on: (event, listener) => sentinel.on(event, listener),
    off: (event, listener) => sentinel.off(event, listener),
    close: async () => {
      await sentinel.close();
    },
    destroy: () => {
      sentinel.destroy();
    },
  };
}

/** `createSentinel` options (`name`, `sentinelRootNodes`, …). */
export type SentinelOptions = Record<string, unknown> & {
  name: string;
  sentinelRootNodes: { host: string; port: number }[];
};

const ignore = () => {};
const NO_TIMER = { timeout: 0 }; // pipelined commands share one deadline instead

/** A node-redis client, opened on first use and again after it lost its server. */
export class RedisConnection {
  /** How messages name the server: `redis at host:port` or the given client. */
  readonly where: string;
  /** The bound in ms on connecting and on each command. */
  readonly timeout: number;
  readonly #url: string | undefined;
  /** The password of `#url` (raw and decoded), never to appear in an error. */
  readonly #secrets: string[] = [];
  #user: RedisClientLike | undefined;
  /** `createSentinel` options for a sentinel client of our own. */
  readonly #sentinel: SentinelOptions | undefined;
  /** Bounds the calls on a client we cannot reset (given, or a sentinel client). */
  readonly #deadlines: DeadlineQueue;
  /** The client whose state tells whether it can take commands. */
  #base: RedisClientLike | undefined;
  /** Where commands go: `#base`, or a view of it with our command options. */
  #target: RedisClientLike | undefined;
  #pending: Promise<RedisClientLike> | undefined;
  #module: RedisModule | undefined;
  #closed = false;
  // The watchdog of our own client (see `#watch`).
  #busy = 0;
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stalled = false;

  /**
   * Prepares a connection; nothing is loaded or opened until the first call.
   *
   * @param options `url` to open a client, or `client` to use one; `timeout` in ms.
   */
  constructor(options: {
    url: string;
    client: RedisClientLike | RedisSentinelLike | undefined;
    sentinel?: SentinelOptions | undefined;
    timeout: number;
  }) {
    this.timeout = options.timeout;
    this.#deadlines = new DeadlineQueue(options.timeout);
    const client = options.client;
    this.#user = isSentinelClient(client) ? sentinelView(client) : client;
    this.#sentinel = options.sentinel;
    if (this.#user) {
      this.#url = undefined;
      this.where = isSentinelClient(client)
        ? "the redis sentinel client given as `client`"
        : "the redis client given as `client`";
    } else if (this.#sentinel) {
      this.#url = undefined;
      const { name, sentinelRootNodes } = this.#sentinel;
      this.where = `redis master "${name}" of sentinels at ${
        sentinelRootNodes.map(({ host, port }) => `${host}:${port}`).join(", ")
      }`;
      const password = (this.#sentinel.nodeClientOptions as { password?: unknown } | undefined)
        ?.password;
      if (typeof password === "string" && password !== "") this.#secrets.push(password);
    } else {
      this.#url = options.url;
      const url = new URL(options.url);
      this.where = `redis at ${url.hostname}:${url.port || "6379"}`;
      // the password, not the user name: a name is no secret, and a short one ("u")
      // would be starred out of every word of a message that contains it
      for (const part of [url.password]) {
        if (part === "") continue;
        this.#secrets.push(part);
        try {
          this.#secrets.push(decodeURIComponent(part));
        } catch {
          // checkRedisOptions refuses malformed escapes; nothing more to hide
        }
      }
    }
  }

  /**
   * Sends one command and resolves to `done(reply)`; a failure rejects with
   * {@linkcode RedisConnection.failure}'s error naming `op` and `key`.
   */
  call<R, T>(
    op: string,
    key: string | undefined,
    args: RedisArgument[],
    done: (reply: R) => T,
    deadline?: number,
  ): Promise<T> {
    const client = this.#base?.isOpen ? this.#target : undefined;
    if (client === undefined || deadline !== undefined) {
      // One deadline for everything this call waits for: loading the client,
      // connecting and the reply (and, for a follow-up, the calls before it).
      const ms = (deadline ?? performance.now() + this.timeout) - performance.now();
      const sent = client === undefined
        ? this.connect().then((ready) => this.#dispatch(ready, op, key, args, done))
        : this.#dispatch(client, op, key, args, done);
      return withDeadline(sent, ms).catch((error) => {
        throw this.failure(op, key, error);
      });
    }
    return this.#dispatch(client, op, key, args, done);
  }

  #dispatch<R, T>(
    client: RedisClientLike,
    op: string,
    key: string | undefined,
    args: RedisArgument[],
    done: (reply: R) => T,
  ): Promise<T> {
    if (this.#user || this.#sentinel) {
      // not ours to reset when it hangs (a sentinel client waits through a
      // failover): one shared deadline timer for all calls
      return this.#deadlines.settle(
        client.sendCommand(args) as Promise<R>,
        done,
        (error) => this.failure(op, key, error),
      );
    }
    if (this.#busy++ === 0) this.#since = Date.now();
    this.#timer ??= setTimeout(this.#watch, this.timeout);
    return (client.sendCommand(args) as Promise<R>).then((reply) => {
      this.#settle();
      return done(reply);
    }, (error) => {
      this.#settle();
      throw this.failure(op, key, error);
    });
  }

  #settle(): void {
    this.#busy--;
    this.#since = Date.now();
  }

  /**
   * Our client's watchdog: node-redis times out a command only while it waits
   * to be written, not while it waits for its reply, and one timer per call
   * costs more than a round trip's tenth. Replies on one connection come in
   * order, so one timer suffices: when commands have been waiting and no reply
   * came for `timeout`, the server is stuck; the client is destroyed (failing
   * every waiting call) and the next call opens a new one.
   */
  #watch = (): void => {
    this.#timer = undefined;
    if (this.#busy <= 0) return;
    const quiet = Date.now() - this.#since;
    if (quiet < this.timeout) {
      this.#timer = setTimeout(this.#watch, this.timeout - quiet);
      return;
    }
    this.#stalled = true;
    const client = this.#base;
    this.#base = this.#target = undefined;
    client?.destroy();
  };

  /** Sends several commands in one round trip; rejects if any failed. */
  async pipeline(op: string, keys: string[], commands: RedisArgument[][]): Promise<unknown[]> {
    let failed: { index: number; error: unknown } | undefined;
    try {
      // one deadline for loading, connecting and the whole batch
      const results = await withDeadline(
        (async () => {
          const client = (this.#base?.isOpen ? this.#target : undefined) ?? await this.connect();
          const replies = commands.map((args, index) =>
            client.sendCommand(args, NO_TIMER).catch((error) => {
              failed ??= { index, error };
            })
          );
          return await Promise.all(replies);
        })(),
        this.timeout,
      );
      if (!failed) return results;
    } catch (error) {
      throw this.failure(op, undefined, error);
    }
    throw this.failure(op, keys[failed.index], failed.error);
  }

  /** Opens (or reopens) the client; concurrent callers share one attempt. */
  connect(): Promise<RedisClientLike> {
    return this.#pending ??= this.#open().finally(() => {
      this.#pending = undefined;
    });
  }

  /**
   * The error a cache call rejects with when `cause` failed it: the server's
   * error reply as a `CacheError`, anything else as a `CacheConnectionError`.
   */
  failure(op: string, key: string | undefined, error: unknown): Error {
    if (error instanceof CacheError) return error;
    const what = _opAndKey(op, key);
    const cause = this.#redact(error);
    if (this.isReply(error)) {
      const message = `Cannot ${what}: redis replied ${this.#hide((error as Error).message)}`;
      return replyCode(error) === "WRONGTYPE"
        ? new SerializationError(`${message} (the key holds another redis type)`, {
          cause,
          op,
          key,
        })
        : new CacheError(message, { cause, op, key });
    }
    if (error instanceof ClientLoadError) {
      return new CacheError(`Cannot ${what}: ${error.message}`, { cause });
    }
    if (error instanceof DeadlineError && this.#module === undefined) {
      return new CacheError(
        `Cannot ${what}: the redis client ${REDIS_CLIENT} did not load within ${this.timeout} ms`,
        { cause },
      );
    }
    const reason = this.#stalled || error instanceof DeadlineError ||
        (this.#module !== undefined && error instanceof this.#module.TimeoutError)
      ? `no answer within ${this.timeout} ms`
      : this.#hide((error as Error)?.message || String(error));
    return new CacheConnectionError(`Cannot ${what}: ${this.where} is unavailable (${reason})`, {
      cause,
    });
  }

  /** `text` without credentials: URL userinfo, `user:pass@` specs, this url's own secrets. */
  #hide(text: string): string {
    let out = redactCredentials(text);
    for (const secret of this.#secrets) out = out.replaceAll(secret, "***");
    return out;
  }

  /**
   * `error` itself when nothing it carries (message, stack, causes) quotes a
   * credential; else a copy with them hidden (same name, hidden message and
   * stack), so a cause never leaks what the url holds.
   */
  #redact(error: unknown, depth = 0): unknown {
    if (!(error instanceof Error) || depth > 4) return error;
    const inner = this.#redact(error.cause, depth + 1);
    const message = this.#hide(error.message);
    const stack = error.stack === undefined ? undefined : this.#hide(error.stack);
    if (message === error.message && stack === error.stack && inner === error.cause) return error;
    const copy = new Error(message, inner === undefined ? undefined : { cause: inner });
    copy.name = error.name;
    copy.stack = stack ?? "";
    return copy;
  }

  /** Whether `error` is the server's error reply (not a connection failure). */
  isReply(error: unknown): boolean {
    return this.#module !== undefined && error instanceof this.#module.ErrorReply;
  }

  async #open(): Promise<RedisClientLike> {
    const redis = this.#module ??= await this.#load();
    if (this.#closed) throw new Error("the cache was closed while the client loaded");
    const typeMapping = { [redis.RESP_TYPES.BLOB_STRING]: Buffer };
    if (this.#sentinel && !this.#user) {
      // ours, but kept across failovers: node-redis follows the sentinels
      this.#user = sentinelView(redis.createSentinel({
        // one master connection held for good: without it, node-redis 6.3.1 takes a lease
        // per burst of commands, and commands issued together while no lease is held each
        // wait for their own lease, one after another (20 concurrent gets = 20 round trips)
        reserveClient: true,
        ...this.#sentinel,
        nodeClientOptions: {
          disableClientInfo: true,
          ...(this.#sentinel.nodeClientOptions as object | undefined),
        },
      }));
    }
    const user = this.#user;
    if (user) {
      if (!this.#target) {
        user.on("error", ignore);
        // no per-command timer of node-redis's: the shared deadline bounds each call
        this.#target = user.withCommandOptions({ typeMapping, timeout: 0 });
        this.#base = user;
      }
      if (!user.isOpen) await withDeadline(user.connect(), this.timeout);
      return this.#target;
    }
    this.#drop();
    const client = redis.createClient({
      url: this.#url,
      disableOfflineQueue: true, // fail fast while disconnected
      disableClientInfo: true,
      maintNotifications: "disabled",
      // a lost connection closes the client; the next call opens a new one
      socket: { connectTimeout: this.timeout, reconnectStrategy: false },
      // no per-command timer: the watchdog bounds replies, pipelines have one timer
      commandOptions: { timeout: 0, typeMapping },
    });
    client.on("error", ignore); // every failure reaches a caller as a rejection
    await connectOrDestroy(client, this.timeout, () => this.#closed);
    this.#stalled = false;
    this.#base = this.#target = client;
    return client;
  }

  /** Loads the client package; a failure is a `ClientLoadError` that says so. */
  #load(): Promise<RedisModule> {
    return loadRedisModule(
      "createClient",
      (message, options) => new ClientLoadError(message, options),
    );
  }

  /** Forgets our client (after it lost its server, or on close). */
  #drop(): RedisClientLike | undefined {
    const client = this.#base;
    this.#base = this.#target = undefined;
    if (client && !client.isOpen) client.destroy();
    return client?.isOpen ? client : undefined;
  }

  /** Closes our client (after pending commands); a given client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    // waits for a connect in progress at most `timeout`; a client still loading
    // after that opens nothing once it has loaded (`#open` checks `#closed`)
    if (this.#pending) await withDeadline(this.#pending, this.timeout).catch(ignore);
    this.#deadlines.cancel();
    if (this.#sentinel) {
      const own = this.#user;
      this.#user = this.#base = this.#target = undefined;
      if (own) {
        own.off("error", ignore);
        try {
          await withDeadline(own.close(), this.timeout);
        } catch {
          own.destroy();
        }
      }
      return;
    }
    if (this.#user) {
      this.#user.off("error", ignore);
      return;
    }
    const open = this.#drop();
    if (open) {
      try {
        await withDeadline(open.close(), this.timeout);
      } catch {
        open.destroy();
      }
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
