/**
 * Option checks shared by the backends' option functions (the shape of
 * `backends/filesystem/_options.ts`: one function that checks, defaults and
 * freezes).
 *
 * @module
 */
import { _describe } from "../../cache.ts";

/**
 * A per-call `timeout` in ms: a finite number > 0, `fallback` when absent.
 *
 * @param where The class being created, for the message (`Cannot create UwsgiCache: …`).
 * @throws {RangeError} Anything else, naming the option and the value received.
 *
 * @example
 * ```ts
 * import { checkTimeout } from "./options.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkTimeout("MyCache", undefined, 5000), 5000);
 * assert.throws(() => checkTimeout("MyCache", 0, 5000), {
 *   name: "RangeError",
 *   message: "Cannot create MyCache: timeout must be a finite number of ms > 0, received 0",
 * });
 * ```
 */
export function checkTimeout(
  where: string,
  value: unknown,
  fallback: number,
  name = "timeout",
): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !(value > 0) || value === Infinity) {
    throw new RangeError(
      `Cannot create ${where}: ${name} must be a finite number of ms > 0, received ${
        _describe(value)
      }`,
    );
  }
  return value;
}
