/**
 * {@linkcode jsonSerializer}: plain JSON bytes, for stores that programs in
 * other languages read too.
 *
 * @module
 */
import { SerializationError } from "../cache.ts";
import { _freshOutput, _synchronous, type SyncSerializer } from "./serializer.ts";
import { _isJsonSafe } from "./_json_safe.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Stores values as UTF-8 JSON. It refuses, with a `SerializationError`, any
 * value JSON would change on the way (a `Date`, `Map`, `BigInt`, `NaN`, `-0`,
 * `undefined` inside an object, a cycle) instead of reading back something else.
 *
 * @example Share a Redis store with a Python program
 * ```ts
 * import { jsonSerializer } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const bytes = jsonSerializer.serialize({ user: "ada", visits: 3 });
 * assert.equal(new TextDecoder().decode(bytes), '{"user":"ada","visits":3}');
 * assert.deepEqual(jsonSerializer.deserialize(bytes), { user: "ada", visits: 3 });
 * ```
 */
export const jsonSerializer: SyncSerializer = {
  serialize(value: unknown): Uint8Array {
    if (!_isJsonSafe(value)) {
      throw new SerializationError(
        `Cannot serialize value as JSON: it holds something JSON would not read back the same (a Date, Map, Set, BigInt, typed array, NaN, -0, undefined, a class instance or a cycle)`,
      );
    }
    return encoder.encode(JSON.stringify(value));
  },
  deserialize(bytes: Uint8Array): unknown {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (cause) {
      throw new SerializationError(
        `Cannot deserialize ${bytes.length} bytes as JSON: ${(cause as Error).message}`,
        { cause },
      );
    }
  },
};
_freshOutput.add(jsonSerializer);
_synchronous.add(jsonSerializer);
