/**
 * The typed-array constructors every supported runtime has, in the order the
 * default serializer's format numbers them (never reorder: stored bytes
 * refer to these positions). Shared by the serializer and memoize's keys.
 *
 * @module
 */
export const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;
