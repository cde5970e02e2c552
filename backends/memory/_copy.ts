import { _describe, SerializationError } from "../../cache.ts";
import { _isJsonSafe } from "../../serializers/_json_safe.ts";
import { _cloneRuleProblem } from "../../serializers/_clone_rule.ts";

/** How a stored value is handed out: as is, by the plain-data copier, or by `structuredClone`. */
export const AS_IS = 0, PLAIN = 1, CLONE = 2;
export type CopyMode = typeof AS_IS | typeof PLAIN | typeof CLONE;

/** A deep copy of plain data (what `_isJsonSafe` accepts): ~5× faster than `structuredClone`. */
export function _copyPlain(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = _copyPlain(value[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const item = _copyPlain((value as Record<string, unknown>)[key]);
    if (key === "__proto__") {
      Object.defineProperty(out, key, {
        value: item,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    } else out[key] = item;
  }
  return out;
}

/**
 * Deep-frozen plain data nobody can change (data fields only, every object frozen), which the
 * store keeps and hands out as it is: `memoize`'s `freeze` option registers its results here.
 */
export const _shareable = new WeakSet<object>();

/**
 * How an object is copied: plain data by the fast copier, anything else by `structuredClone`,
 * a {@linkcode _shareable} value not at all. A value whose getter throws is left to `_copyIn`,
 * which reports it for its key.
 */
export function _copyMode(value: object): CopyMode {
  if (_shareable.has(value)) return AS_IS;
  try {
    return _isJsonSafe(value) ? PLAIN : CLONE;
  } catch {
    return CLONE;
  }
}

/**
 * The stored copy of an object `value` for `mode`. Anything that stops the copy (a value
 * `structuredClone` refuses, a getter that throws, shared memory) is a `SerializationError`
 * naming the key, with the original error as `cause`.
 */
export function _copyIn(op: string, key: string, value: object, mode: CopyMode): unknown {
  if (mode === AS_IS) return value;
  let copy: unknown;
  try {
    copy = mode === PLAIN ? _copyPlain(value) : structuredClone(value);
  } catch (cause) {
    throw new SerializationError(
      `Cannot ${op} key ${_describe(key)}: value cannot be cloned (${(cause as Error).message})`,
      { cause },
    );
  }
  // The rule structuredClone applies only at the top (Deno turns a nested URL into `{}`)
  // and shared memory (which it would share, not copy) are checked on the original.
  const problem = mode === CLONE ? _cloneRuleProblem(value) : undefined;
  if (problem !== undefined) {
    throw new SerializationError(`Cannot ${op} key ${_describe(key)}: value holds ${problem}`);
  }
  return copy;
}

/** A copy of a stored value for a reader. */
export function _copyOut(value: unknown, mode: CopyMode): unknown {
  return mode === AS_IS ? value : mode === PLAIN ? _copyPlain(value) : structuredClone(value);
}
