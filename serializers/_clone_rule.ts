/**
 * The value rule every backend shares: a value is stored when `structuredClone` would copy
 * each object in it given that object alone, and refused otherwise.
 *
 * Deno's `structuredClone` refuses a `URL` or `Headers` at the top of a value but turns one
 * nested in an object into `{}`; the HTML algorithm refuses it at any depth, and so does
 * this rule. Shared memory is refused too (HTML's clone for storage does the same): a cache
 * holds copies, and a `SharedArrayBuffer` cannot be one.
 *
 * @module
 */

/** Prototypes of objects `structuredClone` has copied alone: ordinary classes, asked once. */
const clonedKinds = new WeakSet<object>();

/**
 * Why `structuredClone` refuses `o` alone (its `DataCloneError`), or `undefined` when it
 * copies it. `o` is an object of a class the caller does not handle itself.
 */
export function _cloneRefusal(o: object): Error | undefined {
  const proto = Object.getPrototypeOf(o);
  if (proto !== null && clonedKinds.has(proto)) return undefined;
  try {
    structuredClone(o);
  } catch (error) {
    return error as Error;
  }
  if (proto !== null) clonedKinds.add(proto);
  return undefined;
}

/** Whether `o` is a `SharedArrayBuffer` or a view over one. */
export function _isShared(o: object): boolean {
  return o instanceof SharedArrayBuffer ||
    (ArrayBuffer.isView(o) && o.buffer instanceof SharedArrayBuffer);
}

/** The name of `o`'s class, for messages. */
export function _typeName(o: object): string {
  const name = (o as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? name : "object";
}

/**
 * Why the value rule refuses `value` (a message), or `undefined` when it holds. Walks what
 * `structuredClone` copies: array items, plain and class objects' own enumerable fields,
 * `Map` and `Set` members, an `Error`'s cause.
 */
export function _cloneRuleProblem(value: unknown, seen = new Set<object>()): string | undefined {
  if (typeof value !== "object" || value === null || seen.has(value)) return undefined;
  seen.add(value);
  const proto = Object.getPrototypeOf(value);
  // The common kinds first, by prototype: cheaper than a chain of instanceof.
  if (proto === Array.prototype) {
    const list = value as unknown[];
    for (let i = 0; i < list.length; i++) {
      const item = list[i];
      if (typeof item !== "object" || item === null) continue;
      const problem = _cloneRuleProblem(item, seen);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (proto === Object.prototype || proto === null) return fieldsProblem(value, seen);
  if (proto === Date.prototype || proto === RegExp.prototype) return undefined;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const problem = _cloneRuleProblem(k, seen) ?? _cloneRuleProblem(v, seen);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (value instanceof Set) {
    for (const item of value) {
      const problem = _cloneRuleProblem(item, seen);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (_isShared(value)) {
    return `${
      value instanceof SharedArrayBuffer ? "a SharedArrayBuffer" : `a ${_typeName(value)} over one`
    } is shared memory, which a cache cannot store as a copy (copy it into an ArrayBuffer first)`;
  }
  if (
    ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date ||
    value instanceof RegExp || value instanceof Number || value instanceof String ||
    value instanceof Boolean || value instanceof BigInt
  ) return undefined;
  if (value instanceof Error) return _cloneRuleProblem(value.cause, seen);
  if (!Array.isArray(value)) {
    const refusal = _cloneRefusal(value);
    if (refusal !== undefined) {
      return `a ${_typeName(value)} cannot be cloned (${refusal.message})`;
    }
  }
  return fieldsProblem(value, seen);
}

function fieldsProblem(value: object, seen: Set<object>): string | undefined {
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== "object" || item === null) continue;
    const problem = _cloneRuleProblem(item, seen);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
