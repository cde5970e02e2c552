/**
 * Deterministic cache keys from function arguments, for `memoize`.
 *
 * The same arguments give the same key in every process: object fields are
 * sorted, `Map` entries and `Set` members are sorted by their own keys, and
 * nothing depends on identity or insertion order. Every encoded value delimits
 * itself (strings are JSON-quoted, containers are bracketed), so two different
 * argument lists never produce the same text.
 *
 * @module
 */
import { _describe } from "./cache.ts";

/** Turns an argument list into a key; throws a `TypeError` for what cannot be keyed. */
export type ArgsKeyer = (args: readonly unknown[]) => string;

const TYPED_ARRAYS = new Set<unknown>([
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
]);

/**
 * Makes the keyer used by `memoize`.
 *
 * @param typed `true` keys `1`, `"1"`, `1n` and `true`/`"true"` apart; `false`
 * (the default of `memoize`) keys every number, bigint, boolean and string by
 * its text, so `f(1)` and `f("1")` share an entry. `null` and `undefined` are
 * always their own keys.
 * @returns A function from an argument list to its key, e.g. `1,"a",{"x":2}`.
 */
export function _argsKeyer(typed: boolean): ArgsKeyer {
  const scalar = typed ? typedScalar : untypedScalar;
  const encode = (value: unknown, path: string, seen: Set<object>): string => {
    const text = scalar(value);
    if (text !== undefined) return text;
    if (typeof value === "function" || typeof value === "symbol") {
      throw unkeyable(path, `is ${_describe(value)}`);
    }
    const object = value as object;
    if (seen.has(object)) throw unkeyable(path, "refers back to itself (a cycle)");
    seen.add(object);
    try {
      return encodeObject(object, path, seen, encode);
    } finally {
      seen.delete(object);
    }
  };
  return (args) => {
    // The common cases (one string or number) skip the recursion.
    if (args.length === 1) {
      const text = scalar(args[0]);
      if (text !== undefined) return text;
    }
    let key = "";
    for (let i = 0; i < args.length; i++) {
      if (i > 0) key += ",";
      key += encode(args[i], `argument ${i + 1}`, new Set());
    }
    return key;
  };
}

type Encode = (value: unknown, path: string, seen: Set<object>) => string;

function untypedScalar(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
    case "bigint":
    case "boolean":
      return `"${value}"`;
    case "undefined":
      return "undefined";
    default:
      return value === null ? "null" : undefined;
  }
}

function typedScalar(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Object.is(value, -0) ? "-0" : `${value}`;
    case "bigint":
      return `${value}n`;
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "undefined";
    default:
      return value === null ? "null" : undefined;
  }
}

function unkeyable(path: string, what: string): TypeError {
  return new TypeError(
    `Cannot derive a memoize key: ${path} ${what}; pass a key function to key such arguments`,
  );
}

function sortedJoin(parts: string[]): string {
  return parts.sort().join(",");
}

function encodeObject(object: object, path: string, seen: Set<object>, encode: Encode): string {
  if (Array.isArray(object)) {
    const parts: string[] = [];
    for (let i = 0; i < object.length; i++) parts.push(encode(object[i], `${path}[${i}]`, seen));
    return `[${parts.join(",")}]`;
  }
  const proto = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null) {
    const parts: string[] = [];
    for (const name of Object.keys(object).sort()) {
      const field = (object as Record<string, unknown>)[name];
      parts.push(`${JSON.stringify(name)}:${encode(field, `${path}.${name}`, seen)}`);
    }
    return `{${parts.join(",")}}`;
  }
  if (object instanceof Date) {
    const time = object.getTime();
    return `Date(${Number.isNaN(time) ? "NaN" : object.toISOString()})`;
  }
  if (object instanceof Map) {
    const parts: string[] = [];
    for (const [k, v] of object) {
      parts.push(
        `${encode(k, `${path} (a Map key)`, seen)}=>${encode(v, `${path} (a Map value)`, seen)}`,
      );
    }
    return `Map(${sortedJoin(parts)})`;
  }
  if (object instanceof Set) {
    const parts: string[] = [];
    for (const member of object) parts.push(encode(member, `${path} (a Set member)`, seen));
    return `Set(${sortedJoin(parts)})`;
  }
  if (object instanceof RegExp) return `RegExp(${JSON.stringify(object.toString())})`;
  if (TYPED_ARRAYS.has(object.constructor)) {
    const name = object.constructor.name;
    return `${name}(${Array.prototype.join.call(object, ",")})`;
  }
  if (object instanceof ArrayBuffer) return `ArrayBuffer(${new Uint8Array(object).join(",")})`;
  if (object instanceof URL) return `URL(${JSON.stringify(object.href)})`;
  throw unkeyable(
    path,
    `is ${
      _describe(object)
    }, whose state a key cannot see (only plain objects, arrays, Date, Map, Set, RegExp, URL, typed arrays and primitives are keyed)`,
  );
}
