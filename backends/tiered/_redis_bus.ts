/**
 * The invalidation transport over Redis pub/sub (`PUBLISH` / `SUBSCRIBE`), on two node-redis
 * connections: one subscribed, one publishing; on a Redis Cluster, sharded pub/sub
 * (`backends/tiered/_sharded_bus.ts`).
 *
 * @module
 */
import { checkOptionNames, redactCredentials } from "../../cache.ts";
import { withDeadline } from "../_toolkit/deadline.ts";
import type { BusHandler, InvalidationBus } from "./_bus.ts";
import { heartbeat, reconnectDelay, sleepFor } from "./_liveness.ts";
import { type ClusterClient, type ClusterSource, ShardedPubSub } from "./_sharded_bus.ts";

/** The client package, by a full specifier loaded at run time (see redis/connection.ts). */
const REDIS_CLIENT = "npm:redis@6.3.1";

/** Options of {@linkcode RedisBus}: one of `url`, `cluster` or `client`. */
export interface RedisBusOptions {
  /**
   * The server, e.g. `"redis://127.0.0.1:6379"` (pub/sub), or a cluster's root nodes,
   * `"redis+cluster://[user:password@]host:port,host:port"` (sharded pub/sub), as RedisCache takes.
   */
  url?: string | undefined;
  /**
   * A Redis Cluster (sharded pub/sub): node-redis `createCluster` options, at least
   * `{ rootNodes: [{ url: "redis://10.0.0.1:6379" }, …] }`, as RedisCache's `cluster` option.
   */
  cluster?: (Record<string, unknown> & { rootNodes: { url: string }[] }) | undefined;
  /**
   * A node-redis cluster client (from `createCluster`): it publishes, and its root nodes and
   * `defaults` are those of the subscriber's own connection (sharded pub/sub). Left open by `close()`.
   */
  client?: unknown;
  /** The pub/sub channel every instance of one cache shares. Default `"cachelib:invalidate"`. */
  channel?: string | undefined;
  /** The deadline in ms of connecting and of each publish. Default 2 000. */
  timeout?: number | undefined;
}

/** The parts of a node-redis client the bus uses. */
interface PubSubClient {
  connect(): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroy(): void;
  isReady: boolean;
}

const OPTION_NAMES = ["url", "cluster", "client", "channel", "timeout"] as const;

/** `redis+cluster://[user:password@]h1:p1,h2:p2` → `createCluster` options. */
function clusterUrl(url: string): ClusterSource | undefined {
  const match = /^redis\+cluster:\/\/(?:([^@/?#]*)@)?([^@/?#]+)\/?$/i.exec(url);
  if (!match) return undefined;
  const nodes = match[2]!.split(",").map((spec) => {
    const node = /^(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/.exec(spec);
    return node ? `redis://${node[1]}:${node[2] ?? 6379}` : undefined;
  });
  if (nodes.some((node) => node === undefined)) return undefined;
  const defaults: Record<string, unknown> = {};
  const userinfo = match[1];
  if (userinfo) {
    const colon = userinfo.indexOf(":");
    try {
      const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
      const password = colon < 0 ? "" : decodeURIComponent(userinfo.slice(colon + 1));
      if (user !== "") defaults.username = user;
      if (password !== "") defaults.password = password;
    } catch {
      return undefined;
    }
  }
  return { cluster: { rootNodes: nodes.map((url) => ({ url: url! })), defaults } };
}

/** Whether `value` looks like a node-redis cluster client. */
function isClusterClient(value: unknown): value is ClusterClient {
  const v = value as Record<string, unknown> | null;
  return typeof v === "object" && v !== null && typeof v.sendCommand === "function" &&
    typeof v.nodeClient === "function" && typeof v.connect === "function" && "masters" in v;
}

/**
 * The transport over Redis pub/sub: a message published by one process reaches the subscribers
 * of every process connected to the same server. On a reconnect of the subscriber (messages may
 * have been lost) the cache clears its L1, and while it is disconnected the cache fills no L1.
 * On a Redis Cluster (`redis+cluster://`, `cluster` or a cluster `client`) it uses sharded pub/sub
 * (`SSUBSCRIBE`/`SPUBLISH`): the channel's slot picks the shard; the subscriber follows failovers
 * and slot migrations, clearing L1 each time.
 *
 * @example A bus for a TieredCache over Redis
 * ```ts ignore
 * import { RedisBus, TieredCache } from "@cachelib/cachelib/tiered";
 * import { RedisCache } from "@cachelib/cachelib/redis";
 * import { MemoryCache } from "@cachelib/cachelib/memory";
 *
 * const url = "redis://127.0.0.1:6379";
 * const bus = new RedisBus({ url, channel: "users" });
 * await using cache = new TieredCache({ l1: new MemoryCache(), l2: new RedisCache({ url }), bus });
 * await bus.ready();
 * ```
 *
 * @example On a Redis Cluster: sharded pub/sub on the channel's shard
 * ```ts ignore
 * import { RedisBus, TieredCache } from "@cachelib/cachelib/tiered";
 * import { RedisCache } from "@cachelib/cachelib/redis";
 * import { MemoryCache } from "@cachelib/cachelib/memory";
 *
 * const cluster = { rootNodes: [{ url: "redis://10.0.0.1:7000" }, { url: "redis://10.0.0.2:7000" }] };
 * const bus = new RedisBus({ cluster, channel: "users" }); // or url: "redis+cluster://10.0.0.1:7000,…"
 * await using cache = new TieredCache({ l1: new MemoryCache(), l2: new RedisCache({ cluster }), bus });
 * await bus.ready();
 * console.log(bus.sharded, bus.shard); // true "10.0.0.2:7000" (the master of the channel's slot)
 * ```
 */
export class RedisBus implements InvalidationBus {
  /** The pub/sub channel. */
  readonly channel: string;
  /** Whether this is sharded pub/sub on a Redis Cluster. */
  readonly sharded: boolean;
  readonly #sharded: ShardedPubSub | undefined;
  readonly #url: string;
  readonly #timeout: number;
  #publisher: Promise<PubSubClient> | undefined;
  #subscriber: PubSubClient | undefined;
  /** The subscribe loop (plain pub/sub), once subscribed. */
  #loop: Promise<void> | undefined;
  #live = false;
  #closed = false;
  #close!: () => void;
  readonly #closing = new Promise<void>((resolve) => (this.#close = resolve));
  /** Told the outcome of every subscription attempt: `undefined` (subscribed) or the failure. */
  readonly #attempts = new Set<(failure: unknown) => void>();

  /**
   * Checks the options; connects when subscribed.
   *
   * @param options See {@linkcode RedisBusOptions}.
   * @throws {TypeError} A missing url or a bad channel or timeout.
   */
  constructor(options: RedisBusOptions) {
    checkOptionNames("RedisBus", options, OPTION_NAMES);
    const { url, cluster, client, channel = "cachelib:invalidate", timeout = 2_000 } = options ??
      {};
    const given = (["url", "cluster", "client"] as const).filter((name) =>
      options?.[name] !== undefined
    );
    if (given.length !== 1) {
      throw new TypeError(
        `Cannot create RedisBus: give one of url, cluster or client, received ${
          given.length === 0 ? "none" : given.join(" and ")
        }`,
      );
    }
    let source: ClusterSource | undefined;
    if (url !== undefined) {
      source = typeof url === "string" ? clusterUrl(url) : undefined;
      if (source === undefined && (typeof url !== "string" || !/^rediss?:\/\//.test(url))) {
        throw new TypeError(
          "Cannot create RedisBus: url must be a redis://, rediss:// or " +
            "redis+cluster://host:port[,host:port…] URL",
        );
      }
    } else if (cluster !== undefined) {
      const nodes = (cluster as { rootNodes?: unknown })?.rootNodes;
      if (
        !Array.isArray(nodes) || nodes.length === 0 ||
        !nodes.every((node) => typeof node?.url === "string" && /^rediss?:\/\//i.test(node.url))
      ) {
        throw new TypeError(
          'Cannot create RedisBus: cluster must be createCluster options with rootNodes [{ url: "redis://host:port" }, …]',
        );
      }
      source = { cluster };
    } else if (isClusterClient(client)) {
      source = { client };
    } else {
      throw new TypeError(
        "Cannot create RedisBus: client must be a node-redis cluster client (from createCluster)",
      );
    }
    if (typeof channel !== "string" || channel === "") {
      throw new TypeError("Cannot create RedisBus: channel must be a non-empty string");
    }
    if (typeof timeout !== "number" || !(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(
        `Cannot create RedisBus: timeout must be a finite number > 0, received ${timeout}`,
      );
    }
    this.#url = url ?? "";
    this.channel = channel;
    this.#timeout = timeout;
    this.sharded = source !== undefined;
    if (source !== undefined) {
      this.#sharded = new ShardedPubSub(channel, source, timeout, this.#clusterWhere(source));
    }
  }

  #clusterWhere(source: ClusterSource): string {
    if ("client" in source) return "redis sharded pub/sub on the cluster client given as `client`";
    const nodes = source.cluster.rootNodes.map(({ url }) => {
      const parsed = URL.canParse(url) ? new URL(url) : undefined;
      return parsed ? `${parsed.hostname}:${parsed.port || 6379}` : "?";
    });
    return `redis sharded pub/sub at ${nodes.join(", ")}`;
  }

  /** Whether the subscriber is connected and subscribed. */
  get live(): boolean {
    if (this.#sharded) return this.#sharded.live;
    return this.#live && !this.#closed;
  }

  /**
   * On a cluster, `"host:port"` of the master the subscriber is (or was last) subscribed on.
   * `undefined` before the first subscription and for plain pub/sub.
   */
  get shard(): string | undefined {
    return this.#sharded?.owner;
  }

  /** The server, credentials removed, for messages. */
  get #where(): string {
    return `redis pub/sub at ${redactCredentials(this.#url)}`;
  }

  /** A node-redis client that never reconnects by itself: the subscribe loop or `publish` do. */
  async #client(): Promise<PubSubClient> {
    const redis = await import(REDIS_CLIENT) as {
      createClient(options: Record<string, unknown>): PubSubClient;
    };
    return redis.createClient({
      url: this.#url,
      disableOfflineQueue: true,
      socket: { connectTimeout: this.#timeout, reconnectStrategy: false },
    });
  }

  /**
   * Subscribes on a connection of its own, in a loop: when the connection is lost (closed, or a
   * PING unanswered within `timeout`: a hung server) the bus is not live, the cache clears its L1
   * (`reset`), and the loop connects and subscribes again, backing off 50 ms → 1 s between
   * failed attempts; every subscription after the first calls `reset` once more.
   */
  subscribe(handler: BusHandler): void {
    if (this.#loop !== undefined) {
      throw new TypeError("Cannot subscribe RedisBus: it already has a subscriber");
    }
    if (this.#sharded) {
      this.#loop = Promise.resolve();
      this.#sharded.subscribe(handler);
      return;
    }
    this.#loop = this.#run(handler);
  }

  async #run(handler: BusHandler): Promise<void> {
    let retries = 0;
    let subscribedOnce = false;
    while (!this.#closed) {
      let client: PubSubClient | undefined;
      try {
        client = await this.#client();
        if (this.#closed) break;
        this.#subscriber = client;
        let lost!: (cause: unknown) => void;
        const disrupted = new Promise<unknown>((resolve) => (lost = resolve));
        client.on("error", lost); // also when it ends: the cache degrades, writes still reach L2
        client.on("end", () => lost(new Error("the connection closed")));
        await withDeadline(client.connect(), this.#timeout, () => this.#late("connect"));
        await withDeadline(
          client.subscribe(this.channel, (message) => handler.message(message)),
          this.#timeout,
          () => this.#late("subscribe"),
        );
        // Subscribed: anything published since the last subscription may have been lost.
        if (subscribedOnce) handler.reset();
        subscribedOnce = true;
        retries = 0;
        this.#live = true;
        this.#tell(undefined);
        const stop = heartbeat(client, this.#timeout, () => this.#late("PING"), lost);
        await Promise.race([disrupted, this.#closing]).finally(stop);
        this.#live = false;
        if (this.#closed) break;
        handler.reset();
      } catch (error) {
        this.#live = false;
        this.#tell(error);
      } finally {
        if (this.#subscriber === client) this.#subscriber = undefined;
        client?.destroy();
      }
      if (!this.#closed) await sleepFor(reconnectDelay(retries++), this.#closing);
    }
  }

  #tell(failure: unknown): void {
    for (const told of [...this.#attempts]) told(failure);
  }

  #late(what: string): Error {
    return new Error(`Cannot ${what}: ${this.#where} did not answer within ${this.#timeout} ms`);
  }

  /**
   * Resolves once the subscription is active (messages published after it are delivered); when
   * it is not, waits for the next subscription attempt (each is bounded by `timeout`).
   *
   * @throws {Error} That attempt failed, or the bus is closed.
   */
  async ready(): Promise<void> {
    if (this.#sharded) return await this.#sharded.ready();
    if (this.live) return;
    if (this.#closed || this.#loop === undefined) {
      throw new Error(
        `Cannot subscribe: ${this.#where}: the bus is ${
          this.#closed ? "closed" : "not subscribed (no cache uses it)"
        }`,
      );
    }
    let told!: (failure: unknown) => void;
    try {
      const failure = await new Promise<unknown>((resolve) => this.#attempts.add(told = resolve));
      if (failure !== undefined) {
        const why = redactCredentials(String((failure as Error)?.message ?? failure));
        // our own errors name the server already; node-redis's do not
        const message = why.startsWith("Cannot ")
          ? why
          : `Cannot subscribe: ${this.#where}: ${why}`;
        throw new Error(message, { cause: failure });
      }
    } finally {
      this.#attempts.delete(told);
    }
  }

  /** Publishes `text` on the channel. */
  async publish(text: string): Promise<void> {
    if (this.#sharded) return await this.#sharded.publish(text);
    const connect = () =>
      this.#client().then(async (client) => {
        client.on("error", () => {});
        await withDeadline(client.connect(), this.#timeout, () => this.#late("connect"));
        return client;
      });
    let publisher = this.#publisher ??= connect();
    try {
      let client = await publisher;
      if (!client.isReady) { // lost its connection since the last publish: a fresh one
        client.destroy();
        publisher = this.#publisher = connect();
        client = await publisher;
      }
      await withDeadline(
        client.publish(this.channel, text),
        this.#timeout,
        () => this.#late("publish"),
      );
    } catch (cause) {
      if (this.#publisher === publisher) this.#publisher = undefined; // reconnect next time
      publisher.then((client) => client.destroy(), () => {});
      throw new Error(`${this.#where}: ${redactCredentials(String((cause as Error)?.message))}`);
    }
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#live = false;
    this.#close();
    this.#tell(new Error(`Cannot subscribe: ${this.#where}: the bus is closed`));
    if (this.#sharded) return await this.#sharded.close();
    this.#subscriber?.destroy();
    await this.#loop;
    const publisher = await this.#publisher?.catch(() => undefined);
    publisher?.destroy();
  }
}
