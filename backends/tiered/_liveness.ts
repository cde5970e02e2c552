/**
 * How the Redis subscribers of {@linkcode RedisBus} (plain pub/sub, `_redis_bus.ts`, and sharded
 * pub/sub, `_sharded_bus.ts`) stay sure they still hear their server: a heartbeat that notices a
 * hung server, and the bounded backoff between two subscription attempts.
 *
 * @module
 */
import { withDeadline } from "../_toolkit/deadline.ts";

/** How often a subscriber checks that its server answers (ms). */
export const HEARTBEAT_MS = 2_000;

/** A connection that can send a command (a node-redis client, in subscribe mode too). */
export interface Pingable {
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * PINGs `client` every {@linkcode HEARTBEAT_MS}; no answer within `timeout` ms calls `dead` with
 * `late()`, a failed PING with its error. A hung server (SIGSTOPped, partitioned) keeps the socket
 * open and sends no error, so without this a subscriber would stay deaf and look connected. PING
 * is allowed in subscribe mode.
 *
 * @param client The subscribed connection.
 * @param timeout How long a PING may take (ms).
 * @param late The error of a PING that got no answer in time.
 * @param dead Called once, when a PING failed; not after the returned stop function ran.
 * @returns The function that stops the heartbeat (clears its timer).
 */
export function heartbeat(
  client: Pingable,
  timeout: number,
  late: () => Error,
  dead: (error: unknown) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const beat = () => {
    timer = setTimeout(() => {
      withDeadline(client.sendCommand(["PING"]), timeout, late)
        .then(() => stopped || beat(), (error) => stopped || dead(error));
    }, HEARTBEAT_MS);
  };
  beat();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The wait before subscription attempt `retries + 1` after a failure: 50 ms doubling to 1 s. */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** retries, 1_000);
}

/** Resolves after `ms`, or as soon as `cancel` settles (the timer is cleared either way). */
export function sleepFor(ms: number, cancel: Promise<unknown>): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    cancel,
  ]).finally(() => clearTimeout(timer));
}
