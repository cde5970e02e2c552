/**
 * What the wrapping serializers (`compressed`, `encrypted`) share: the inner serializer's bytes.
 *
 * @module
 */
import { _describe, SerializationError } from "../cache.ts";
import type { Serializer } from "./serializer.ts";

/**
 * `serializer.serialize(value)`: the bytes, synchronously when the serializer is (a serializer
 * may reuse its buffer on its next call, so a caller consumes them before it awaits anything), or
 * a promise of them; anything but a `Uint8Array` is a `SerializationError`.
 */
export function _innerBytes(
  serializer: Serializer,
  value: unknown,
): Uint8Array | Promise<Uint8Array> {
  const out = serializer.serialize(value);
  return out instanceof Promise ? out.then(checked) : checked(out);
}

function checked(bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  throw new SerializationError(
    `Cannot serialize value: the inner serializer returned ${_describe(bytes)}, not a Uint8Array`,
  );
}
