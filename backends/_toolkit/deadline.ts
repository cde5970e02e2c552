/**
 * One deadline helper for every backend that waits on a server: a watchdog
 * timer that is always cleared, and a race of a promise against a deadline.
 *
 * @module
 */

/**
 * Calls `onTimeout` once after `ms` (at once when `ms <= 0`, on the next timer turn) unless
 * the returned function is called first. The caller disarms it in a `finally`, so no timer
 * outlives the call.
 *
 * @example Abort a connect that takes too long
 * ```ts
 * import { watchdog } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * const controller = new AbortController();
 * const disarm = watchdog(10_000, () => controller.abort());
 * disarm();
 * assert.equal(controller.signal.aborted, false);
 * ```
 */
export function watchdog(ms: number, onTimeout: () => void): () => void {
  const timer = setTimeout(onTimeout, Math.max(0, ms));
  return () => clearTimeout(timer);
}

/**
 * `work`'s result, or a rejection with `late()` when `ms` pass first. `work`
 * goes on (its result is then ignored); the timer is cleared either way.
 *
 * @example A load that must not hold a call past its deadline
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(await withDeadline(Promise.resolve(1), 1000, () => new Error("late")), 1);
 * await assert.rejects(
 *   withDeadline(new Promise(() => {}), 1, () => new Error("late")),
 *   { message: "late" },
 * );
 * ```
 */
export function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let disarm = () => {};
  const timeout = new Promise<never>((_, reject) => {
    disarm = watchdog(ms, () => reject(late()));
  });
  return Promise.race([work, timeout]).finally(disarm);
}
