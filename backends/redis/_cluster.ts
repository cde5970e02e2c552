/**
 * The cluster-aware command layer behind `RedisCache` on a Redis Cluster,
 * through node-redis's `createCluster` (redirections, topology discovery and
 * per-node connections stay node-redis's):
 * - single-key commands go to the key's slot master (`sendCommand(firstKey, …)`);
 * - batches never meet CROSSSLOT: keys are grouped by slot (CRC16 with hash
 *   tags, {@linkcode groupBySlot}) and one command per slot is sent; all
 *   groups are issued in the same tick, so node-redis writes each node's
 *   commands as one pipeline and the nodes work in parallel;
 * - `clear()` runs on every master (`FLUSHDB ASYNC`, or `SCAN` + `UNLINK`
 *   per slot for a prefix) and fails if any master fails;
 * - `keys()` scans every master in turn, one `SCAN` page per step
 *   ({@linkcode ClusterConnection.scan});
 * - the cluster's transient states (CLUSTERDOWN, TRYAGAIN, MOVED/ASK left
 *   after node-redis's redirections — node-redis 6 wraps the last one in
 *   "Too many Cluster redirections" —, READONLY, LOADING, MASTERDOWN) are
 *   connection errors, not wrong answers: {@linkcode clusterFailure}.
 *
 * Every call has one deadline, `timeout` ms, whatever it fans out to.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  _opAndKey,
  CacheConnectionError,
  CacheError,
  redactCredentials,
  SerializationError,
} from "../../cache.ts";
import {
  connectOrDestroy,
  DeadlineError,
  DeadlineQueue,
  loadRedisModule,
  type RedisArgument,
  replyCode,
  withDeadline,
} from "./_connection.ts";
import { groupBySlot } from "./_slots.ts";

/** A master as node-redis's cluster lists it. */
export interface ClusterMasterLike {
  /** `"host:port"`. */
  readonly address: string;
}

/** The part of a node-redis node client this layer uses. */
export interface ClusterNodeClientLike {
  /** Sends one command to this node. */
  sendCommand(args: ReadonlyArray<RedisArgument>, options?: object): Promise<unknown>;
}

/**
 * The parts of a node-redis (v5/v6) cluster client that this layer uses; a
 * client from `createCluster()` of `npm:redis` has them.
 */
export interface RedisClusterLike {
  /** Whether the cluster client is connected or connecting. */
  readonly isOpen: boolean;
  /** The current masters (`address` is `"host:port"`). */
  readonly masters: readonly { readonly address: string }[];
  /** Connects to the cluster (discovers the topology). */
  connect(): Promise<unknown>;
  /** Sends a command to the node owning `firstKey`'s slot, following MOVED/ASK. */
  sendCommand(
    firstKey: string | Uint8Array | undefined,
    isReadonly: boolean | undefined,
    args: ReadonlyArray<string | Uint8Array>,
    options?: object,
  ): Promise<unknown>;
  /** The connected client of one node. */
  nodeClient(node: { readonly address: string }): Promise<{
    sendCommand(args: ReadonlyArray<string | Uint8Array>, options?: object): Promise<unknown>;
  }>;
  /** Adds an event listener. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Removes an event listener. */
  off(event: "error", listener: (error: Error) => void): unknown;
  /** Closes after pending commands. */
  close(): Promise<void>;
  /** Closes now. */
  destroy(): void;
}

/**
 * Whether `value` looks like a node-redis cluster client (from `createCluster`),
 * so a cache can tell it from a single-node client and reject anything else.
 *
 * @param value Anything.
 * @returns `true` for an object with the cluster client's methods.
 */
export function isClusterClient(value: unknown): value is RedisClusterLike {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.nodeClient === "function" && typeof v.sendCommand === "function" &&
    typeof v.connect === "function" && typeof v.close === "function" && "masters" in v;
}

/**
 * The error replies that mean the cluster is (briefly) unable to serve the
 * slot: its first word, the code Redis puts first in every error reply.
 */
export const TRANSIENT_REPLIES: ReadonlySet<string> = new Set([
  "CLUSTERDOWN",
  "TRYAGAIN",
  "MOVED",
  "ASK",
  "READONLY",
  "LOADING",
  "MASTERDOWN",
]);

/**
 * The transient cluster reply behind `error`: `error` itself, or the reply it wraps as its
 * `cause`. node-redis 6 rejects with `MaxCommandRedirectionsError` ("Too many Cluster
 * redirections", the last MOVED/ASK reply its `cause`) when 16 redirections did not reach the
 * slot's owner: the nodes disagree on it while a failover or a slot move settles.
 */
function transientReply(error: unknown, isReply: (error: unknown) => boolean): Error | undefined {
  for (const candidate of [error, (error as Error | undefined)?.cause]) {
    if (isReply(candidate) && TRANSIENT_REPLIES.has(replyCode(candidate) ?? "")) {
      return candidate as Error;
    }
  }
  return undefined;
}

/**
 * The error a cache call on a cluster rejects with when `cause` failed it:
 * a transient cluster state (also when wrapped, as node-redis 6's "Too many
 * Cluster redirections" wraps the last MOVED/ASK: the message names both) or a
 * failure to reach a node as a `CacheConnectionError`, any other error reply as
 * a `CacheError`.
 *
 * @param op The cache operation (`"get"`).
 * @param key The cache key, if the operation has one.
 * @param cause What failed.
 * @param where How messages name the cluster.
 * @param isReply Whether `cause` is a server error reply.
 * @returns The error to reject with.
 *
 * @example A CLUSTERDOWN reply is a connection error
 * ```ts
 * import assert from "node:assert/strict";
 * import { CacheConnectionError } from "../../cache.ts";
 * import { clusterFailure } from "./_cluster.ts";
 *
 * const down = new Error("CLUSTERDOWN The cluster is down");
 * const error = clusterFailure("get", "a", down, "redis cluster at 127.0.0.1:7000", () => true);
 * assert.ok(error instanceof CacheConnectionError);
 * assert.equal(
 *   error.message,
 *   'Cannot get key "a": redis cluster at 127.0.0.1:7000 is unavailable (CLUSTERDOWN The cluster is down)',
 * );
 * ```
 */
export function clusterFailure(
  op: string,
  key: string | undefined,
  cause: unknown,
  where: string,
  isReply: (error: unknown) => boolean,
): Error {
  if (cause instanceof CacheError) return cause;
  const what = _opAndKey(op, key);
  if (isReply(cause) && !TRANSIENT_REPLIES.has(replyCode(cause) ?? "")) {
    const message = `Cannot ${what}: redis replied ${redactCredentials((cause as Error).message)}`;
    return replyCode(cause) === "WRONGTYPE"
      ? new SerializationError(`${message} (the key holds another redis type)`, { cause, op, key })
      : new CacheError(message, { cause, op, key });
  }
  const wrapped = isReply(cause) ? undefined : transientReply(cause, isReply);
  const reason = redactCredentials(
    ((cause as Error)?.message || String(cause)) + (wrapped ? `: ${wrapped.message}` : ""),
  );
  return new CacheConnectionError(`Cannot ${what}: ${where} is unavailable (${reason})`, { cause });
}

/** What this module takes from `npm:redis`. */
interface RedisModule {
  createCluster(options: Record<string, unknown>): RedisClusterLike;
  ErrorReply: abstract new (...args: never[]) => Error;
  RESP_TYPES: { BLOB_STRING: number };
}

const ignore = () => {};

/** Loads node-redis (see `loadRedisModule`): its cluster part. */
function loadModule(): Promise<RedisModule> {
  return loadRedisModule("createCluster", (message, options) => new CacheError(message, options));
}

/** Options of {@linkcode ClusterConnection}. */
export interface ClusterConnectionOptions {
  /** `createCluster` options (`rootNodes`, `defaults`, …) for a cluster client of our own. */
  readonly cluster?: Record<string, unknown> & { rootNodes: { url?: string }[] };
  /** A cluster client the caller owns (connected or not); closing the cache leaves it open. */
  readonly client?: RedisClusterLike;
  /** The bound in ms on connecting and on each call. */
  readonly timeout: number;
}

/** A node-redis cluster client, opened on first use, with batch routing by slot. */
export class ClusterConnection {
  /** How messages name the cluster. */
  readonly where: string;
  /** The bound in ms on each call. */
  readonly timeout: number;
  readonly #options: ClusterConnectionOptions["cluster"];
  readonly #user: RedisClusterLike | undefined;
  #client: RedisClusterLike | undefined;
  #pending: Promise<RedisClusterLike> | undefined;
  #module: RedisModule | undefined;
  #typeMapping: Record<number, unknown> | undefined;
  #closed = false;
  readonly #deadlines: DeadlineQueue;
  /** Whether the client splits a cross-slot `MGET` itself (node-redis 6 does; v5 answers CROSSSLOT). */
  #splitsMget = true;

  /**
   * Prepares a connection; nothing is loaded or opened until the first call.
   *
   * @param options `cluster` options to open a client, or a `client`; `timeout` in ms.
   */
  constructor(options: ClusterConnectionOptions) {
    this.timeout = options.timeout;
    this.#deadlines = new DeadlineQueue(options.timeout);
    this.#user = options.client;
    this.#options = options.cluster;
    if (this.#user) {
      this.where = "the redis cluster client given as `client`";
    } else {
      const nodes = (options.cluster?.rootNodes ?? []).map((node) => {
        try {
          const url = new URL(node.url ?? "");
          return `${url.hostname}:${url.port || "6379"}`;
        } catch {
          return "?";
        }
      });
      this.where = `redis cluster at ${nodes.join(", ")}`;
    }
  }

  /** Whether `error` is a server error reply (not a connection failure). */
  isReply(error: unknown): boolean {
    return this.#module !== undefined && error instanceof this.#module.ErrorReply;
  }

  /** The error a call rejects with (see {@linkcode clusterFailure}). */
  failure(op: string, key: string | undefined, cause: unknown): Error {
    if (cause instanceof DeadlineError) {
      return new CacheConnectionError(
        `Cannot ${
          _opAndKey(op, key)
        }: ${this.where} is unavailable (no answer within ${this.timeout} ms)`,
        { cause },
      );
    }
    return clusterFailure(op, key, cause, this.where, (e) => this.isReply(e));
  }

  /**
   * Sends one command to the master of `firstKey`'s slot and resolves to
   * `done(reply)`. A read (`readonly`) that meets a transient cluster state
   * is sent once more within the same deadline; a write never is.
   *
   * @param op The cache operation, for messages.
   * @param key The cache key, for messages.
   * @param firstKey The Redis key that routes the command.
   * @param args The command.
   * @param done Maps the reply.
   * @param readonly Whether the command only reads (then it may be retried once).
   * @param deadline When the call must have settled (`performance.now()` time);
   * default `timeout` ms from now.
   */
  call<R, T>(
    op: string,
    key: string | undefined,
    firstKey: RedisArgument | undefined,
    args: RedisArgument[],
    done: (reply: R) => T,
    readonly = false,
    deadline?: number,
  ): Promise<T> {
    const client = this.#client?.isOpen ? this.#client : undefined;
    const send = (client: RedisClusterLike) => {
      const options = this.#commandOptions();
      const first = client.sendCommand(firstKey, readonly, args, options) as Promise<R>;
      return readonly
        ? first.catch((error) => {
          if (!this.#transient(error)) throw error;
          return client.sendCommand(firstKey, readonly, args, options) as Promise<R>;
        })
        : first;
    };
    const sent = client ? send(client) : this.connect().then(send);
    // one shared timer for calls with the default deadline, one of its own otherwise
    if (deadline === undefined) {
      return this.#deadlines.settle(sent, done, (error) => this.failure(op, key, error));
    }
    return withDeadline(sent, deadline - performance.now()).then(done, (error) => {
      throw this.failure(op, key, error);
    });
  }

  /**
   * `MGET` over keys of any slots, in batch order: one `MGET` that the
   * client splits by slot itself (node-redis 6 applies its multi-shard
   * request policy, cheaper than a command per slot), or, when the client
   * answered CROSSSLOT (node-redis 5), one `MGET` per slot from then on.
   *
   * @param op The cache operation, for messages.
   * @param keys The Redis keys.
   */
  async mget(op: string, keys: readonly RedisArgument[]): Promise<unknown[]> {
    if (this.#splitsMget) {
      try {
        return await this.call(
          op,
          undefined,
          keys[0],
          ["MGET", ...keys],
          (r: unknown[]) => r,
          true,
        );
      } catch (error) {
        if (!/CROSSSLOT/.test((error as Error).message)) throw error;
        this.#splitsMget = false;
      }
    }
    return await this.perSlot(op, keys, (group) => ["MGET", ...group], true);
  }

  /**
   * Runs one command per slot over a batch: `build(keys)` makes the command
   * for the keys of one slot, and its reply must be an array with one entry
   * per key (like `MGET`). Resolves to the entries in batch order.
   *
   * @param op The cache operation, for messages.
   * @param keys The Redis keys of the batch.
   * @param build The command for one slot's keys.
   * @param readonly Whether the commands only read (then each may be retried once).
   */
  async perSlot(
    op: string,
    keys: readonly RedisArgument[],
    build: (keys: RedisArgument[]) => RedisArgument[],
    readonly = false,
  ): Promise<unknown[]> {
    const groups = groupBySlot(keys as (string | Uint8Array)[]);
    const run = async () => {
      const client = await this.connect();
      const options = this.#commandOptions();
      const results = new Array<unknown>(keys.length);
      const sent = groups.map((group) => {
        const args = build(group.keys as RedisArgument[]);
        const first = group.keys[0] as RedisArgument;
        const send = () => client.sendCommand(first, readonly, args, options);
        const reply = readonly
          ? send().catch((error) => {
            if (!this.#transient(error)) throw error;
            return send();
          })
          : send();
        return reply.then((replies) => {
          const values = replies as unknown[];
          group.indices.forEach((index, i) => (results[index] = values[i]));
        });
      });
      await Promise.all(sent);
      return results;
    };
    try {
      return await withDeadline(run(), this.timeout);
    } catch (error) {
      throw this.failure(op, undefined, error);
    }
  }

  /**
   * Sends independent single-key commands (`SET`, `UNLINK`, …) all at once:
   * each goes to its key's master, and node-redis writes each node's share
   * as one pipeline. Resolves to the replies in order; rejects naming the
   * first key whose command failed.
   *
   * @param op The cache operation, for messages.
   * @param keys The cache keys, for messages (`keys[i]` is `commands[i]`'s).
   * @param firstKeys The Redis key that routes each command.
   * @param commands The commands.
   */
  async pipeline(
    op: string,
    keys: readonly string[],
    firstKeys: readonly RedisArgument[],
    commands: readonly RedisArgument[][],
  ): Promise<unknown[]> {
    let failed: { index: number; error: unknown } | undefined;
    try {
      const client = await withDeadline(this.connect(), this.timeout);
      const options = this.#commandOptions();
      const replies = commands.map((args, index) =>
        client.sendCommand(firstKeys[index], false, args, options).catch((error) => {
          failed ??= { index, error };
        })
      );
      const results = await withDeadline(Promise.all(replies), this.timeout);
      if (!failed) return results;
    } catch (error) {
      throw this.failure(op, undefined, error);
    }
    throw this.failure(op, keys[failed.index], failed.error);
  }

  /**
   * Runs `fn` on every master's client, in parallel; resolves to the results
   * in the order of the masters, and rejects if any master fails, naming it.
   *
   * @param op The cache operation, for messages.
   * @param fn The work for one master.
   */
  async forEachMaster<T>(
    op: string,
    fn: (client: ClusterNodeClientLike, master: ClusterMasterLike) => Promise<T>,
  ): Promise<T[]> {
    const run = async () => {
      const cluster = await this.connect();
      const masters = [...cluster.masters];
      if (masters.length === 0) throw new Error("the cluster has no masters");
      const settled = await Promise.allSettled(
        masters.map(async (master) => fn(await cluster.nodeClient(master), master)),
      );
      const index = settled.findIndex((s) => s.status === "rejected");
      if (index !== -1) {
        const reason = (settled[index] as PromiseRejectedResult).reason;
        if (this.isReply(reason) && !this.#transient(reason)) throw reason;
        throw new Error(
          `master ${masters[index]!.address} failed: ${(reason as Error)?.message ?? reason}`,
          { cause: reason },
        );
      }
      return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
    };
    try {
      return await withDeadline(run(), this.timeout);
    } catch (error) {
      throw this.failure(op, undefined, error);
    }
  }

  /**
   * Empties the cluster: `FLUSHDB ASYNC` on every master, or with a `match`
   * pattern (`"prefix*"`), `SCAN` every master and `UNLINK` what it finds,
   * one command per slot. Fails if any master fails. Each master's work has
   * the deadline; a prefixed clear of a large cluster is bounded per page.
   *
   * @param match A `SCAN MATCH` pattern, or `undefined` to flush everything.
   * @param count The `SCAN COUNT` hint (default 1000).
   */
  async clear(match?: string, count = 1000): Promise<void> {
    if (match === undefined) {
      await this.forEachMaster("clear", (client) => client.sendCommand(["FLUSHDB", "ASYNC"]));
      return;
    }
    const cluster = await withDeadline(this.connect(), this.timeout).catch((error) => {
      throw this.failure("clear", undefined, error);
    });
    const masters = [...cluster.masters];
    const failures = await Promise.allSettled(masters.map(async (master) => {
      let cursor = "0";
      do {
        const [next, keys] = await withDeadline(
          cluster.nodeClient(master).then((client) =>
            client.sendCommand(["SCAN", cursor, "MATCH", match, "COUNT", String(count)], {
              typeMapping: this.#typeMapping,
            }) as Promise<[RedisArgument, RedisArgument[]]>
          ),
          this.timeout,
        );
        cursor = String(next);
        if (keys.length > 0) {
          await this.perSlot("clear", keys, (group) => ["UNLINK", ...group]);
        }
      } while (cursor !== "0");
    }));
    const index = failures.findIndex((f) => f.status === "rejected");
    if (index !== -1) {
      const reason = (failures[index] as PromiseRejectedResult).reason;
      if (reason instanceof CacheError) throw reason;
      throw this.failure(
        "clear",
        undefined,
        reason instanceof DeadlineError ? reason : new Error(
          `master ${masters[index]!.address} failed: ${(reason as Error)?.message ?? reason}`,
          { cause: reason },
        ),
      );
    }
  }

  /**
   * Lists the keys matching `match` on every master, one master after the other: yields one
   * `SCAN` page (possibly empty) per step. Each page has one deadline, `timeout` ms from when
   * it is asked for, covering whatever it needs (connecting, the node's client, the `SCAN`).
   * The masters are those node-redis knows when the iteration starts; every one is scanned
   * whatever the slot map says, so a key whose slot moved before the iteration is found on its
   * new master. A master that fails or does not answer rejects the step with a
   * `CacheConnectionError` naming it (`host:port`, no credentials); an error reply that is not a
   * transient cluster state is a `CacheError` with the reply.
   *
   * @param op The cache operation, for messages.
   * @param match The `SCAN MATCH` pattern (already glob-escaped).
   * @param count The `SCAN COUNT` hint (default 1000).
   */
  async *scan(op: string, match: RedisArgument, count = 1000): AsyncGenerator<RedisArgument[]> {
    const page = async <T>(work: Promise<T>, master?: ClusterMasterLike): Promise<T> => {
      try {
        return await withDeadline(work, deadline - performance.now());
      } catch (error) {
        throw this.#masterFailure(op, master, error);
      }
    };
    let deadline = performance.now() + this.timeout;
    const cluster = await page(this.connect());
    const masters = [...cluster.masters];
    if (masters.length === 0) throw this.failure(op, undefined, new Error("it has no masters"));
    for (const master of masters) {
      let cursor = "0";
      do {
        const [next, keys] = await page(
          cluster.nodeClient(master).then((client) =>
            client.sendCommand(["SCAN", cursor, "MATCH", match, "COUNT", String(count)], {
              typeMapping: this.#typeMapping,
              timeout: 0,
            }) as Promise<[RedisArgument, RedisArgument[]]>
          ),
          master,
        );
        cursor = String(next);
        yield keys;
        deadline = performance.now() + this.timeout; // the caller asks for the next page
      } while (cursor !== "0");
    }
  }

  /** The error of a step of {@linkcode scan} that failed on `master` (or before reaching one). */
  #masterFailure(op: string, master: ClusterMasterLike | undefined, cause: unknown): Error {
    if (master === undefined || cause instanceof CacheError) {
      return this.failure(op, undefined, cause);
    }
    if (this.isReply(cause) && !this.#transient(cause)) return this.failure(op, undefined, cause);
    const address = redactCredentials(master.address);
    const reason = cause instanceof DeadlineError
      ? `gave no answer within ${this.timeout} ms`
      : `failed: ${redactCredentials((cause as Error)?.message || String(cause))}`;
    return new CacheConnectionError(
      `Cannot ${
        _opAndKey(op, undefined)
      }: ${this.where} is unavailable (master ${address} ${reason})`,
      { cause },
    );
  }

  #transient(error: unknown): boolean {
    return transientReply(error, (e) => this.isReply(e)) !== undefined;
  }

  #commandOptions(): object {
    // no per-command timer of node-redis's (an AbortSignal each): our deadline bounds each call
    return { typeMapping: this.#typeMapping, timeout: 0 };
  }

  /** Opens (or reuses) the cluster client; concurrent callers share one attempt. */
  connect(): Promise<RedisClusterLike> {
    const client = this.#client;
    if (client?.isOpen) return Promise.resolve(client);
    return this.#pending ??= this.#open().finally(() => {
      this.#pending = undefined;
    });
  }

  async #open(): Promise<RedisClusterLike> {
    if (this.#closed) throw new Error("the cache is closed");
    const redis = this.#module ??= await loadModule();
    this.#typeMapping ??= { [redis.RESP_TYPES.BLOB_STRING]: Buffer };
    const user = this.#user;
    if (user) {
      if (!this.#client) user.on("error", ignore);
      this.#client = user;
      if (!user.isOpen) await withDeadline(user.connect(), this.timeout);
      return user;
    }
    const options = this.#options!;
    const defaults = (options.defaults ?? {}) as Record<string, unknown>;
    const cluster = redis.createCluster({
      // a node that went away (a killed master) is only noticed by reconnecting to it;
      // node-redis then asks the cluster for its new topology after this delay (default 5 s)
      topologyRefreshOnReconnectionAttemptStrategy: 1000,
      ...options,
      defaults: {
        disableOfflineQueue: true,
        disableClientInfo: true,
        maintNotifications: "disabled",
        ...defaults,
        socket: {
          connectTimeout: this.timeout,
          ...(defaults.socket as Record<string, unknown> | undefined),
        },
      },
    });
    cluster.on("error", ignore); // every failure reaches a caller as a rejection
    await connectOrDestroy(cluster, this.timeout, () => this.#closed);
    this.#client = cluster;
    return cluster;
  }

  /** Closes our cluster client (after pending commands); a given client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#deadlines.cancel();
    if (this.#pending) await withDeadline(this.#pending, this.timeout).catch(ignore);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (this.#user) {
      client.off("error", ignore);
      return;
    }
    try {
      await withDeadline(client.close(), this.timeout);
    } catch {
      client.destroy();
    }
  }
}
