/**
 * The invalidation transport over Redis pub/sub (`PUBLISH` / `SUBSCRIBE`), on two node-redis
 * connections: one subscribed, one publishing.
 *
 * @module
 */
import { redactCredentials } from "../../cache.ts";
import { withDeadline } from "../_toolkit/deadline.ts";
import type { BusHandler, InvalidationBus } from "./_bus.ts";

/** The client package, by a full specifier loaded at run time (see redis/connection.ts). */
const REDIS_CLIENT = "npm:redis@6.3.1";

/** Options of {@linkcode RedisBus}. */
export interface RedisBusOptions {
  /** The server, e.g. `"redis://127.0.0.1:6379"`. */
  url: string;
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
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroy(): void;
  isReady: boolean;
}

/**
 * The transport over Redis pub/sub: a message published by one process reaches the subscribers
 * of every process connected to the same server. On a reconnect of the subscriber (messages may
 * have been lost) the cache clears its L1, and while it is disconnected the cache fills no L1.
 * Redis Cluster's sharded pub/sub is not supported.
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
 */
export class RedisBus implements InvalidationBus {
  /** The pub/sub channel. */
  readonly channel: string;
  readonly #url: string;
  readonly #timeout: number;
  #publisher: Promise<PubSubClient> | undefined;
  #subscriber: PubSubClient | undefined;
  #subscribed: Promise<void> | undefined;
  #live = false;
  #closed = false;

  /**
   * Checks the options; connects when subscribed.
   *
   * @param options See {@linkcode RedisBusOptions}.
   * @throws {TypeError} A missing url or a bad channel or timeout.
   */
  constructor(options: RedisBusOptions) {
    const { url, channel = "cachelib:invalidate", timeout = 2_000 } = options ?? {};
    if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
      throw new TypeError("Cannot create RedisBus: url must be a redis:// or rediss:// URL");
    }
    if (typeof channel !== "string" || channel === "") {
      throw new TypeError("Cannot create RedisBus: channel must be a non-empty string");
    }
    if (typeof timeout !== "number" || !(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(
        `Cannot create RedisBus: timeout must be a finite number > 0, received ${timeout}`,
      );
    }
    this.#url = url;
    this.channel = channel;
    this.#timeout = timeout;
  }

  /** Whether the subscriber is connected and subscribed. */
  get live(): boolean {
    return this.#live && !this.#closed;
  }

  /** The server, credentials removed, for messages. */
  get #where(): string {
    return `redis pub/sub at ${redactCredentials(this.#url)}`;
  }

  async #client(reconnect: boolean): Promise<PubSubClient> {
    const redis = await import(REDIS_CLIENT) as {
      createClient(options: Record<string, unknown>): PubSubClient;
    };
    return redis.createClient({
      url: this.#url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.#timeout,
        reconnectStrategy: reconnect
          ? (retries: number) => Math.min(50 * (retries + 1), 1_000)
          : false,
      },
    });
  }

  /** Subscribes on a connection of its own; every reconnect after the first calls `reset`. */
  subscribe(handler: BusHandler): void {
    if (this.#subscribed !== undefined) {
      throw new TypeError("Cannot subscribe RedisBus: it already has a subscriber");
    }
    this.#subscribed = (async () => {
      const client = await this.#client(true);
      if (this.#closed) return;
      this.#subscriber = client;
      let connected = false;
      client.on("error", () => {}); // the bus degrades to "not live"; writes still reach L2
      client.on("reconnecting", () => {
        this.#live = false;
        handler.reset();
      });
      client.on("ready", () => {
        // node-redis resubscribes on reconnect; anything published meanwhile is lost.
        if (connected) handler.reset();
        connected = true;
        if (this.#subscriberReady) this.#live = true;
      });
      await withDeadline(client.connect(), this.#timeout, () => this.#late("connect"));
      await client.subscribe(this.channel, (message) => handler.message(message));
      this.#subscriberReady = true;
      this.#live = true;
    })();
    this.#subscribed.catch(() => {}); // reported by ready()
  }

  #subscriberReady = false;

  #late(what: string): Error {
    return new Error(`Cannot ${what}: ${this.#where} did not answer within ${this.#timeout} ms`);
  }

  /**
   * Resolves once the subscription is active (messages published after it are delivered).
   *
   * @throws {Error} The subscriber could not connect.
   */
  async ready(): Promise<void> {
    await this.#subscribed;
  }

  /** Publishes `text` on the channel. */
  async publish(text: string): Promise<void> {
    const connect = () =>
      this.#client(false).then(async (client) => {
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
    await this.#subscribed?.catch(() => {});
    this.#subscriber?.destroy();
    const publisher = await this.#publisher?.catch(() => undefined);
    publisher?.destroy();
  }
}
