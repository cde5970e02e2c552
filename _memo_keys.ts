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
import { TYPED_ARRAYS } from "./serializers/_typed_arrays.ts";

/**
 * Turns an argument list into a key; throws a `TypeError` for what cannot be keyed. Given
 * `out`, it also records in `out.snapshot` what the key was derived from (see
 * {@linkcode _unchanged}), or sets it to `undefined` when the arguments hold something a
 * snapshot does not cover.
 */
export type ArgsKeyer = (
  args: readonly unknown[],
  out?: { snapshot?: unknown[] | undefined },
) => string;

const TYPED_ARRAY_TYPES = new Set<unknown>(TYPED_ARRAYS);

/** Markers of a snapshot (objects, so never `Object.is` a primitive). */
const PLAIN_OBJECT = { snapshot: "plain object" };
const NULL_OBJECT = { snapshot: "null-prototype object" };
const ARRAY = { snapshot: "array" };
const DATE = { snapshot: "Date" };
const SNAPSHOT_SIZE = 512;
const SNAPSHOT_DEPTH = 16;
const dateTime = Date.prototype.getTime;
const dateText = Date.prototype.toISOString;
const protoOf = Object.getPrototypeOf;

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
  return (args, out) => {
    // The common case (one string or number) skips the walk.
    if (args.length === 1 && out === undefined) {
      const text = scalar(args[0]);
      if (text !== undefined) return text;
    }
    const snap = out === undefined ? undefined : [ARRAY, args.length];
    const walk: Walk = { scalar, depth: 0, path: undefined, open: undefined, snap };
    try {
      const key = encodeArgs(walk, args);
      // A snapshot as large as the arguments costs about what deriving their key does.
      if (out !== undefined) {
        out.snapshot = walk.snap !== undefined && walk.snap.length <= SNAPSHOT_SIZE
          ? walk.snap
          : undefined;
      }
      return key;
    } catch (error) {
      if (error !== RETRY) throw error;
      // Something cannot be keyed, or nesting is deep: walk again, tracking
      // where we are (for the message) and which objects are open (for cycles).
      if (out !== undefined) out.snapshot = undefined;
      return encodeArgs({ scalar, depth: 0, path: [], open: [], snap: undefined }, args);
    }
  };
}

/**
 * The state of one key derivation. The fast walk tracks only the depth; the
 * tracked walk (after a {@linkcode RETRY}) also records the path, for error
 * messages, and the open objects, to tell a cycle from deep nesting.
 */
interface Walk {
  scalar: (value: unknown) => string | undefined;
  depth: number;
  /** The argument number, then `[index]` / `.field` segments. */
  path: (string | number)[] | undefined;
  open: object[] | undefined;
  /**
   * The snapshot being recorded (fast walk only), `undefined` once the arguments hold
   * something it does not cover.
   */
  snap: unknown[] | undefined;
}

/** Thrown by the fast walk to ask for the tracked walk. */
const RETRY = Symbol("retry with tracking");
/** Beyond this nesting the fast walk hands over to the tracked one, which detects cycles. */
const FAST_DEPTH = 32;

function encodeArgs(walk: Walk, args: readonly unknown[]): string {
  let key = "";
  for (let i = 0; i < args.length; i++) {
    if (i > 0) key += ",";
    key += encodeAt(walk, i + 1, args[i]);
  }
  return key;
}

/** Encodes `value`, one level below the current one (`segment` names it, for errors). */
function encodeAt(walk: Walk, segment: string | number, value: unknown): string {
  const text = walk.scalar(value);
  if (text !== undefined) {
    if (walk.snap !== undefined) walk.snap.push(value);
    return text;
  }
  const { path, open } = walk;
  if (path === undefined || open === undefined) {
    if (typeof value !== "object" || walk.depth >= FAST_DEPTH) throw RETRY;
    walk.depth++;
    const result = encodeObject(walk, value as object);
    walk.depth--;
    return result;
  }
  path.push(segment);
  if (typeof value === "function" || typeof value === "symbol") {
    throw unkeyable(walk, `is ${_describe(value)}`);
  }
  if (open.includes(value as object)) throw unkeyable(walk, "refers back to itself (a cycle)");
  open.push(value as object);
  const result = encodeObject(walk, value as object);
  open.pop();
  path.pop();
  return result;
}

/**
 * `JSON.stringify(text)`, with a shortcut for short strings that need no
 * escaping (the common case; `JSON.stringify` costs ~70 ns even for "id").
 */
function quote(text: string): string {
  if (text.length > 64) return JSON.stringify(text);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) {
      return JSON.stringify(text);
    }
  }
  return `"${text}"`;
}

/** Sorts strings by code unit like `Array.prototype.sort()`, faster for the few fields of an argument. */
function sortNames(names: string[]): string[] {
  if (names.length > 16) return names.sort();
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    let j = i - 1;
    for (; j >= 0 && names[j]! > name; j--) names[j + 1] = names[j]!;
    names[j + 1] = name;
  }
  return names;
}

function untypedScalar(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return quote(value);
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
      return quote(value);
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

function unkeyable(walk: Walk, what: string): TypeError | typeof RETRY {
  if (walk.path === undefined) return RETRY;
  const [argument, ...rest] = walk.path;
  let path = `argument ${argument}`;
  for (const segment of rest) path += typeof segment === "number" ? `[${segment}]` : segment;
  return new TypeError(
    `Cannot derive a memoize key: ${path} ${what}; pass a key function to key such arguments`,
  );
}

function sortedJoin(parts: string[]): string {
  return parts.sort().join(",");
}

/** Records a container's marker and size in the walk's snapshot, or gives up on it when deep or large. */
function note(walk: Walk, a: unknown, b: unknown): void {
  const snap = walk.snap;
  if (snap === undefined) return;
  if (walk.depth > SNAPSHOT_DEPTH || snap.length > SNAPSHOT_SIZE) walk.snap = undefined;
  else snap.push(a, b);
}

function encodeObject(walk: Walk, object: object): string {
  if (Array.isArray(object)) {
    // The length is read once, as the check does: a getter that grows or shrinks the array
    // mid-walk must not leave a snapshot whose recorded size differs from its elements.
    const length = object.length;
    if (walk.snap !== undefined) note(walk, ARRAY, length);
    let text = "[";
    for (let i = 0; i < length; i++) {
      if (i > 0) text += ",";
      text += encodeAt(walk, i, object[i]);
    }
    return text + "]";
  }
  const proto = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null) {
    const names = Object.keys(object);
    if (walk.snap !== undefined) {
      // The names in enumeration order, which the check compares with `for…in`.
      note(walk, proto === null ? NULL_OBJECT : PLAIN_OBJECT, names.length);
      const snap = walk.snap;
      if (snap !== undefined) { for (let i = 0; i < names.length; i++) snap.push(names[i]); }
    }
    sortNames(names);
    let text = "{";
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (walk.snap !== undefined) walk.snap.push(name);
      if (i > 0) text += ",";
      text += `${quote(name)}:${
        encodeAt(walk, `.${name}`, (object as Record<string, unknown>)[name])
      }`;
    }
    return text + "}";
  }
  if (object instanceof Date) {
    const time = object.getTime();
    if (
      proto === Date.prototype && object.getTime === dateTime && object.toISOString === dateText
    ) {
      note(walk, DATE, time);
    } else walk.snap = undefined;
    return `Date(${Number.isNaN(time) ? "NaN" : object.toISOString()})`;
  }
  walk.snap = undefined;
  if (object instanceof Map) {
    const parts: string[] = [];
    for (const [k, v] of object) {
      parts.push(`${encodeAt(walk, " (a Map key)", k)}=>${encodeAt(walk, " (a Map value)", v)}`);
    }
    return `Map(${sortedJoin(parts)})`;
  }
  if (object instanceof Set) {
    const parts: string[] = [];
    for (const member of object) parts.push(encodeAt(walk, " (a Set member)", member));
    return `Set(${sortedJoin(parts)})`;
  }
  if (object instanceof RegExp) return `RegExp(${JSON.stringify(object.toString())})`;
  if (TYPED_ARRAY_TYPES.has(object.constructor)) {
    const name = object.constructor.name;
    return `${name}(${Array.prototype.join.call(object, ",")})`;
  }
  if (object instanceof ArrayBuffer) return `ArrayBuffer(${new Uint8Array(object).join(",")})`;
  if (object instanceof URL) return `URL(${JSON.stringify(object.href)})`;
  throw unkeyable(
    walk,
    `is ${
      _describe(object)
    }, whose state a key cannot see (only plain objects, arrays, Date, Map, Set, RegExp, URL, typed arrays and primitives are keyed)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Snapshots: a key derived once from an argument object is reused while the object is unchanged.
//
// A snapshot is a flat list recorded by the derivation itself (the fast walk), so it holds
// exactly the values the key was made of, each read once: primitives as themselves, and for
// each container a marker (an object, so never `Object.is` a primitive), its size, then its
// content (a plain object: its own enumerable field names in enumeration order, then each
// name again in the sorted order the key uses, followed by its value; an array: each element;
// a Date: its time). `_unchanged` reads the arguments
// the same way (`[[Get]]`, so getters too) and compares in place: no allocation. Anything else
// (Map, Set, RegExp, typed arrays, URL, a Date with its own methods, values deeper than 16 or
// larger than 512 entries) is not covered: such arguments are derived in full on every call.

/**
 * Whether `args` still hold what `snapshot` recorded, so their key is the one derived then.
 * Reads fields the way the derivation does and allocates nothing.
 */
export function _unchanged(args: readonly unknown[], snapshot: unknown[]): boolean {
  if (args.length !== snapshot[1]) return false;
  // An enumerable field on Object.prototype would show in every plain object's `for…in`.
  for (const _ in Object.prototype) return false;
  let at = 2;
  for (let i = 0; i < args.length; i++) {
    at = same(args[i], snapshot, at);
    if (at < 0) return false;
  }
  return at === snapshot.length;
}

/** The position after `value`'s entries in `snap`, or -1 when `value` differs. */
function same(value: unknown, snap: unknown[], at: number): number {
  const mark = snap[at];
  if (typeof mark !== "object" || mark === null) return Object.is(value, mark) ? at + 1 : -1;
  if (typeof value !== "object" || value === null) return -1;
  const size = snap[at + 1] as number;
  at += 2;
  if (mark === ARRAY) {
    if (!Array.isArray(value) || value.length !== size) return -1;
    for (let i = 0; i < size; i++) {
      at = same(value[i], snap, at);
      if (at < 0) return -1;
    }
    return at;
  }
  if (mark === DATE) {
    return protoOf(value) === Date.prototype && (value as Date).getTime === dateTime &&
        (value as Date).toISOString === dateText && Object.is(dateTime.call(value), size)
      ? at
      : -1;
  }
  // A plain object of the same kind whose `for…in` gives the recorded names in order: with
  // no enumerable field on Object.prototype (checked by `_unchanged`), those are exactly its
  // own enumerable fields, the ones the key was made of. Then the values, in the key's order.
  if (
    Array.isArray(value) || protoOf(value) !== (mark === NULL_OBJECT ? null : Object.prototype)
  ) {
    return -1;
  }
  let count = 0;
  for (const name in value) {
    if (count === size || name !== snap[at + count]) return -1;
    count++;
  }
  if (count !== size) return -1;
  at += size;
  for (let i = 0; i < size; i++) {
    at = same((value as Record<string, unknown>)[snap[at] as string], snap, at + 1);
    if (at < 0) return -1;
  }
  return at;
}
