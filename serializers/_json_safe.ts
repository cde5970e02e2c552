/** Deeper than this, a value takes the tagged path (which also handles cycles). */
const MAX_DEPTH = 64;

/**
 * Whether `JSON.stringify` then `JSON.parse` gives back an equal value:
 * only plain objects, arrays without holes or `undefined`, strings, booleans,
 * `null` and finite numbers other than `-0`, nested at most 64 deep.
 */
export function _isJsonSafe(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          if (item === undefined || !_isJsonSafe(item, depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (!_isJsonSafe((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
