/**
 * The invalidation transport of {@linkcode RedisBus} on a Redis Cluster: sharded pub/sub
 * (`SSUBSCRIBE` / `SPUBLISH`, Redis 7). The channel's slot decides the shard: every message goes
 * to that shard's master only (and its replicas), not over the cluster bus to every node as a plain
 * `PUBLISH` would.
 *
 * - **Publisher**: a node-redis cluster client (ours, or the one given); `SPUBLISH` is routed by
 *   the channel's slot and follows MOVED like any keyed command.
 * - **Subscriber**: one plain node-redis connection to the slot's master, found with
 *   `CLUSTER KEYSLOT` + `CLUSTER SLOTS` on any known node, that never reconnects by itself. When
 *   it is lost — the connection closes (a killed master, a failover), the server pushes
 *   `sunsubscribe` (the slot migrated), or `SSUBSCRIBE` answers `MOVED` — the bus is not live, the
 *   cache clears its L1 (`reset`), and a loop finds the owner again (a MOVED address first, then
 *   the last owner, then discovery) and subscribes anew, backing off 50 ms → 1 s between
 *   attempts. Each new subscription clears L1 once more: what was published meanwhile is lost.
 *
 * @module
 */
import { redactCredentials } from "../../cache.ts";
import { withDeadline } from "../_toolkit/deadline.ts";
import type { BusHandler } from "./_bus.ts";
import { heartbeat, reconnectDelay, sleepFor } from "./_liveness.ts";

/** The client package, by a full specifier loaded at run time (see redis/_connection.ts). */
const REDIS_CLIENT = "npm:redis@6.3.1";

/** `host:port` of a cluster node. */
interface Address {
  host: string;
  port: number;
}

/** The parts of a node-redis node client the subscriber uses. */
interface NodeClient {
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  sSubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroy(): void;
}

/** The parts of a node-redis cluster client the publisher uses. */
export interface ClusterClient {
  readonly isOpen: boolean;
  readonly masters: readonly { readonly address: string }[];
  connect(): Promise<unknown>;
  sendCommand(
    firstKey: string,
    isReadonly: boolean,
    args: string[],
    options?: object,
  ): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  close(): Promise<void>;
  destroy(): void;
}

interface RedisModule {
  createClient(options: Record<string, unknown>): NodeClient;
  createCluster(options: Record<string, unknown>): ClusterClient;
}

/** Where the bus finds the cluster: `createCluster` options, or a cluster client it leaves open. */
export type ClusterSource =
  | { cluster: Record<string, unknown> & { rootNodes: { url: string }[] } }
  | { client: ClusterClient };

/** `MOVED <slot> <host>:<port>` → the address. */
function movedTo(error: unknown): Address | undefined {
  const match = /^MOVED \d+ (.*):(\d+)$/.exec(String((error as Error)?.message ?? ""));
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

const key = (address: Address) => `${address.host}:${address.port}`;

/** Sharded pub/sub on one channel of a Redis Cluster (see the module doc). */
export class ShardedPubSub {
  readonly #channel: string;
  readonly #timeout: number;
  readonly #source: ClusterSource;
  readonly #where: string;
  /** Every node address known: the root nodes, then what `CLUSTER SLOTS` named. */
  readonly #known = new Map<string, Address>();
  /** Options of a node connection (credentials, TLS) from `defaults`. */
  readonly #nodeOptions: Record<string, unknown>;
  #module: Promise<RedisModule> | undefined;
  #publisher: Promise<ClusterClient> | undefined;
  #subscriber: NodeClient | undefined;
  #loop: Promise<void> | undefined;
  #live = false;
  #closed = false;
  #close!: () => void;
  readonly #closing = new Promise<void>((resolve) => (this.#close = resolve));
  #lastError: unknown;
  /** Woken by every subscription (for `ready()`). */
  #wake = new Set<() => void>();
  #owner: string | undefined;

  constructor(channel: string, source: ClusterSource, timeout: number, where: string) {
    this.#channel = channel;
    this.#source = source;
    this.#timeout = timeout;
    this.#where = where;
    const options = "cluster" in source
      ? source.cluster
      : (source.client as { _options?: Record<string, unknown> })._options ?? {};
    const defaults = { ...(options.defaults as Record<string, unknown> | undefined) };
    const roots = (options.rootNodes as { url?: string }[] | undefined) ?? [];
    for (const { url } of roots) {
      if (typeof url !== "string" || !URL.canParse(url)) continue;
      const parsed = new URL(url);
      // a root node's credentials serve the nodes discovered later too (as node-redis does not)
      if (parsed.username && defaults.username === undefined) {
        defaults.username = decodeURIComponent(parsed.username);
      }
      if (parsed.password && defaults.password === undefined) {
        defaults.password = decodeURIComponent(parsed.password);
      }
      const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1"); // an IPv6 address unbracketed
      this.#learn({ host, port: Number(parsed.port || 6379) });
    }
    this.#nodeOptions = defaults;
  }

  /** `"host:port"` of the master the subscriber is (or was last) subscribed on. */
  get owner(): string | undefined {
    return this.#owner;
  }

  /** Whether the subscriber is subscribed on the slot's master now. */
  get live(): boolean {
    return this.#live && !this.#closed;
  }

  #learn(address: Address): void {
    if (address.host !== "" && address.port > 0) this.#known.set(key(address), address);
  }

  #load(): Promise<RedisModule> {
    return this.#module ??= import(REDIS_CLIENT) as Promise<RedisModule>;
  }

  #late(what: string): Error {
    return new Error(`Cannot ${what}: ${this.#where} did not answer within ${this.#timeout} ms`);
  }

  /** A connected node client (no reconnects, no offline queue), or a rejection within `timeout`. */
  async #connect(address: Address): Promise<NodeClient> {
    const redis = await this.#load();
    const socket = this.#nodeOptions.socket as Record<string, unknown> | undefined;
    const client = redis.createClient({
      ...this.#nodeOptions,
      disableOfflineQueue: true,
      disableClientInfo: true,
      socket: {
        ...socket,
        host: address.host,
        port: address.port,
        connectTimeout: this.#timeout,
        reconnectStrategy: false,
      },
    });
    client.on("error", () => {}); // a lost connection is handled by the loop
    try {
      await withDeadline(
        client.connect(),
        this.#timeout,
        () => this.#late(`connect to ${key(address)}`),
      );
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  /** The master of the channel's slot, asked of the known nodes in turn. */
  async #discover(): Promise<Address> {
    if ("client" in this.#source) { // a given client's masters, once it knows them
      for (const { address } of this.#source.client.masters ?? []) {
        const colon = address.lastIndexOf(":");
        this.#learn({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
      }
    }
    let last: unknown = new Error("no node is known");
    for (const address of [...this.#known.values()]) {
      if (this.#closed) break;
      let client: NodeClient | undefined;
      try {
        client = await this.#connect(address);
        const ask = Promise.all([
          client.sendCommand(["CLUSTER", "KEYSLOT", this.#channel]),
          client.sendCommand(["CLUSTER", "SLOTS"]),
        ]);
        const [slot, ranges] = await withDeadline(ask, this.#timeout, () => this.#late("discover"));
        let owner: Address | undefined;
        for (const range of ranges as [number, number, ...[string, number][]][]) {
          const [start, end, ...nodes] = range;
          for (const [host, port] of nodes) {
            this.#learn({ host: host === "" ? address.host : host, port: Number(port) });
          }
          const [host, port] = nodes[0] ?? [];
          if (Number(slot) >= start && Number(slot) <= end && port !== undefined) {
            owner = { host: !host ? address.host : host, port: Number(port) };
          }
        }
        if (owner) return owner;
        last = new Error(`${key(address)} names no master for slot ${slot}`);
      } catch (error) {
        last = error;
      } finally {
        client?.destroy();
      }
    }
    throw last;
  }

  /** Starts the subscribe loop. */
  subscribe(handler: BusHandler): void {
    this.#loop = this.#run(handler);
    // open the publisher now, so the first write does not pay for discovering the cluster
    this.#opening = this.#cluster().then(() => {}, () => {});
  }

  /** The publisher's first connect (settled), started by `subscribe`. */
  #opening: Promise<void> | undefined;

  async #run(handler: BusHandler): Promise<void> {
    let target: Address | undefined;
    let retries = 0;
    let subscribedOnce = false;
    while (!this.#closed) {
      let client: NodeClient | undefined;
      let redirected = false;
      try {
        const owner = target ?? await this.#discover();
        client = await this.#connect(owner);
        if (this.#closed) break;
        this.#subscriber = client;
        let lost!: (why: "moved" | "closed") => void;
        const disrupted = new Promise<"moved" | "closed">((resolve) => (lost = resolve));
        client.on("error", () => lost("closed"));
        client.on("end", () => lost("closed"));
        client.on("sharded-channel-moved", () => lost("moved"));
        await withDeadline(
          client.sSubscribe(this.#channel, (message) => handler.message(message)),
          this.#timeout,
          () => this.#late("subscribe"),
        );
        // Subscribed: anything published since the last subscription may have been lost.
        if (subscribedOnce) handler.reset();
        subscribedOnce = true;
        target = owner;
        this.#owner = key(owner);
        retries = 0;
        this.#live = true;
        for (const wake of this.#wake) wake();
        // a hung master keeps the socket open and sends no error: PING it
        const stopBeating = heartbeat(client, this.#timeout, () => this.#late("PING"), (error) => {
          this.#lastError = error;
          lost("closed");
        });
        const why = await Promise.race([disrupted, this.#closing]).finally(stopBeating);
        this.#live = false;
        if (this.#closed) break;
        handler.reset();
        // moved: ask the same node again, its MOVED names the new owner; closed: find the owner
        if (why === "closed") target = undefined;
      } catch (error) {
        this.#live = false;
        this.#lastError = error;
        const moved = movedTo(error);
        if (moved && retries < 5) {
          target = moved;
          redirected = true;
        } else {
          target = undefined;
        }
      } finally {
        if (this.#subscriber === client) this.#subscriber = undefined;
        client?.destroy();
      }
      if (!this.#closed && !redirected) {
        await sleepFor(reconnectDelay(retries), this.#closing);
      }
      retries++;
    }
  }

  /**
   * Resolves once subscribed (and the publisher's first connect has settled); rejects with the
   * last failure when the subscription is not active within `timeout` ms.
   *
   * @throws {Error} Not subscribed within the timeout.
   */
  async ready(): Promise<void> {
    const opening = this.#opening;
    if (opening) {
      await withDeadline(opening, this.#timeout, () => this.#late("connect")).catch(() => {});
    }
    if (this.live) return;
    let wake!: () => void;
    const subscribed = new Promise<void>((resolve) => (wake = resolve));
    this.#wake.add(wake);
    try {
      await withDeadline(subscribed, this.#timeout, () => {
        const cause = this.#lastError;
        const why = cause === undefined
          ? `not subscribed within ${this.#timeout} ms`
          : redactCredentials(String((cause as Error)?.message ?? cause));
        return new Error(`Cannot subscribe: ${this.#where}: ${why}`, { cause });
      });
    } finally {
      this.#wake.delete(wake);
    }
  }

  /** The publisher: the given cluster client, or ours (opened once; again after a failure). */
  #cluster(): Promise<ClusterClient> {
    return this.#publisher ??= (async () => {
      if ("client" in this.#source) {
        const client = this.#source.client;
        if (!client.isOpen) await client.connect();
        return client;
      }
      const redis = await this.#load();
      const defaults = (this.#source.cluster.defaults ?? {}) as Record<string, unknown>;
      const cluster = redis.createCluster({
        // a killed master is noticed by reconnecting to it; then ask for the topology soon
        topologyRefreshOnReconnectionAttemptStrategy: 1000,
        ...this.#source.cluster,
        defaults: {
          disableOfflineQueue: true,
          disableClientInfo: true,
          ...defaults,
          socket: {
            connectTimeout: this.#timeout,
            ...(defaults.socket as Record<string, unknown> | undefined),
          },
        },
      });
      cluster.on("error", () => {}); // a failed publish reaches the caller
      try {
        await cluster.connect();
      } catch (error) {
        cluster.destroy();
        throw error;
      }
      return cluster;
    })();
  }

  /** `SPUBLISH` on the channel, within `timeout`. */
  async publish(text: string): Promise<void> {
    const opening = this.#cluster();
    try {
      const publish = opening.then((cluster) =>
        cluster.sendCommand(this.#channel, false, ["SPUBLISH", this.#channel, text], {
          timeout: 0,
        })
      );
      await withDeadline(publish, this.#timeout, () => this.#late("publish"));
    } catch (cause) {
      // never connected: open again next time (a connected client follows the topology itself)
      const connected = await Promise.race([
        opening.then(() => true, () => false),
        new Promise<false>((resolve) => setTimeout(resolve, 0, false)),
      ]);
      if (!connected && this.#publisher === opening) {
        this.#publisher = undefined;
        if (!("client" in this.#source)) opening.then((c) => c.destroy(), () => {});
      }
      throw new Error(`${this.#where}: ${redactCredentials(String((cause as Error)?.message))}`);
    }
  }

  /** Stops the loop, closes the subscriber and our publisher (a given client stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#live = false;
    this.#close();
    this.#subscriber?.destroy();
    await this.#loop;
    const publisher = await this.#publisher?.catch(() => undefined);
    if (publisher && !("client" in this.#source)) {
      await withDeadline(publisher.close(), this.#timeout, () => new Error("close")).catch(() =>
        publisher.destroy()
      );
    }
  }
}
