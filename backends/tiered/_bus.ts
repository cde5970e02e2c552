/**
 * The invalidation bus of {@linkcode TieredCache}: the transport contract, the message format,
 * and the web-standard transport over `BroadcastChannel`.
 *
 * @module
 */

/** What a transport delivers to the cache that subscribed. */
export interface BusHandler {
  /** One message published by some instance (this one's own included; the cache drops those). */
  message(text: string): void;
  /** Messages may have been lost (a reconnect): the cache clears its L1. */
  reset(): void;
}

/**
 * A transport for invalidation messages between the instances of a {@linkcode TieredCache}.
 * A message is a short string; a transport need not deliver it to its own publisher.
 */
export interface InvalidationBus {
  /** Starts delivering messages to `handler`; called once, by the cache's constructor. */
  subscribe(handler: BusHandler): void;
  /** Sends `text` to every other subscriber; resolves when it is handed to the transport. */
  publish(text: string): void | Promise<void>;
  /** Stops delivering and releases what the transport opened. Idempotent. */
  close(): void | Promise<void>;
  /**
   * Whether messages are being delivered now (subscribed and connected). While `false` the cache
   * does not fill its L1 from L2, since it could not hear of a later write. Absent: always.
   */
  readonly live?: boolean | undefined;
}

/** One invalidation: keys to evict, or every key (`all`). */
export interface BusMessage {
  /** The publishing instance's id. */
  o: string;
  /** The publisher's sequence number, 1, 2, 3, … with no gaps. */
  s: number;
  /** The keys to evict. */
  k?: string[];
  /** Evict every key (a `clear()`). */
  all?: true;
}

/** Parses a message; `undefined` for text that is not one (ignored by the cache). */
export function parseMessage(text: string): BusMessage | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== "object" || message === null) return undefined;
  const { o, s, k, all } = message as Record<string, unknown>;
  if (typeof o !== "string" || typeof s !== "number") return undefined;
  if (all === true) return { o, s, all };
  if (Array.isArray(k) && k.every((key) => typeof key === "string")) return { o, s, k };
  return undefined;
}

/**
 * The transport over the web-standard `BroadcastChannel`: on Deno Deploy it reaches every
 * isolate of a deployment, in the Deno CLI every worker of one process. No server needed.
 *
 * @example Two instances in one process share a channel name
 * ```ts
 * import { BroadcastChannelBus } from "@cachelib/cachelib/tiered";
 * import assert from "node:assert/strict";
 *
 * const bus = new BroadcastChannelBus("my-app");
 * assert.equal(bus.name, "my-app");
 * bus.close();
 * ```
 */
export class BroadcastChannelBus implements InvalidationBus {
  /** The channel name; every instance of one cache uses the same. */
  readonly name: string;
  #channel: BroadcastChannel | undefined;
  #handler: BusHandler | undefined;

  /**
   * Opens the channel.
   *
   * @param name The channel name, e.g. `"cachelib:users"`.
   * @throws {TypeError} `name` is not a non-empty string.
   */
  constructor(name: string) {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        `Cannot create BroadcastChannelBus: name must be a non-empty string, received ${
          typeof name === "string" ? '""' : typeof name
        }`,
      );
    }
    this.name = name;
    this.#channel = new BroadcastChannel(name);
  }

  /** Delivers the channel's messages to `handler`. */
  subscribe(handler: BusHandler): void {
    this.#handler = handler;
    this.#listen();
  }

  #listen(): void {
    const handler = this.#handler;
    if (this.#channel === undefined || handler === undefined) return;
    this.#channel.onmessage = (event: MessageEvent) => {
      if (typeof event.data === "string") handler.message(event.data);
    };
  }

  /** Posts `text` to the other subscribers of the channel. */
  publish(text: string): void {
    const channel = this.#channel;
    if (channel === undefined) return;
    try {
      channel.postMessage(text);
    } catch (error) {
      // Deno 2.x: when the last channel of an isolate closes, its pending receive loop drops the
      // shared resource even if a new channel opened meanwhile, and postMessage then throws
      // `TypeError: expected i32`. A fresh channel opens a new resource; the subscriber was deaf
      // meanwhile, so it clears its L1.
      if (!(error instanceof TypeError)) throw error;
      this.#channel = new BroadcastChannel(this.name);
      channel.close();
      this.#listen();
      this.#handler?.reset();
      this.#channel.postMessage(text);
    }
  }

  /** Closes the channel. */
  close(): void {
    this.#channel?.close();
    this.#channel = undefined;
  }
}
