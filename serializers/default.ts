/**
 * {@linkcode defaultSerializer}: every value the structured clone algorithm
 * copies, at close to JSON's speed.
 *
 * Plain data (plain objects, arrays, strings, finite numbers, booleans, null)
 * is written as UTF-8 JSON, which `JSON.stringify`/`JSON.parse` handle
 * natively. Everything else (`Date`, `Map`, `Set`, `RegExp`, `BigInt`, typed
 * arrays, `undefined` inside objects, `NaN`, `-0`, shared and cyclic
 * references) is written in a compact tagged binary form that starts with a
 * magic byte no JSON text can start with. Decoding never evaluates code; bytes
 * that are neither form raise `SerializationError`. A value `structuredClone`
 * would refuse (a `URL`, `Headers`, a boxed `Symbol`, at any depth), shared
 * memory, a `Blob` or a `CryptoKey` is refused with `SerializationError`
 * instead of being written as something else.
 *
 * @module
 */
import { SerializationError } from "../cache.ts";
import { _freshOutput, _synchronous, type SyncSerializer } from "./serializer.ts";
import { _isJsonSafe } from "./_json_safe.ts";
import { TYPED_ARRAYS } from "./_typed_arrays.ts";
import { _cloneRefusal, _isShared, _typeName as typeName } from "./_clone_rule.ts";

const MAGIC = 0xc7;
const VERSION = 1;

const Tag = {
  Undefined: 0,
  Null: 1,
  False: 2,
  True: 3,
  Int32: 4,
  Float64: 5,
  String: 6,
  BigInt: 7,
  Date: 8,
  RegExp: 9,
  Array: 10,
  Object: 11,
  Map: 12,
  Set: 13,
  Ref: 14,
  Hole: 15,
  ArrayBuffer: 16,
  View: 17,
  Error: 18,
  Boxed: 19,
  DOMException: 20,
} as const;

type ViewConstructor = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayBufferView;
};
const VIEWS: ViewConstructor[] = [...TYPED_ARRAYS, DataView as unknown as ViewConstructor];
// Float16Array is newer than the format; it takes the next number so older indexes keep theirs.
const Float16 = (globalThis as { Float16Array?: ViewConstructor }).Float16Array;
if (Float16 !== undefined) VIEWS.push(Float16);

// A Map, not an object literal: a name such as "toString" or "__proto__" must not find
// Object.prototype's members.
const ERRORS = new Map<string, ErrorConstructor>([
  ["Error", Error],
  ["EvalError", EvalError],
  ["RangeError", RangeError],
  ["ReferenceError", ReferenceError],
  ["SyntaxError", SyntaxError],
  ["TypeError", TypeError],
  ["URIError", URIError],
]);

const CryptoKeyClass = (globalThis as { CryptoKey?: abstract new () => object }).CryptoKey;

const encoder = new TextEncoder();
// `ignoreBOM`: a string that starts with U+FEFF keeps it (the default decoder drops a leading
// byte order mark, which turned a stored "\uFEFFa" into "a").
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Up to this many bytes, text is decoded by {@linkcode shortUtf8} when there is one. */
const SHORT_TEXT = 256;

/**
 * `Buffer.prototype.utf8Slice` of `node:buffer` (lenient, like the lenient `TextDecoder`, and
 * keeping a leading U+FEFF), when the runtime has one that behaves so: on short input it costs
 * ~60% of a `TextDecoder.decode` call (its per-call overhead dominates there), on long input
 * more (docs/benchmarks.md, "Serializers and memoize: lean paths"). Looked up through
 * `process.getBuiltinModule`, so a runtime without `node:` modules (a browser) loads this
 * module all the same and decodes with `TextDecoder`.
 */
const shortUtf8 = nodeUtf8Slice();

type Slice = (this: Uint8Array, start: number, end: number) => string;

function nodeUtf8Slice(): Slice | undefined {
  try {
    const process = (globalThis as {
      process?: { getBuiltinModule?: (id: string) => unknown };
    }).process;
    const buffer = process?.getBuiltinModule?.("node:buffer") as
      | { Buffer?: { prototype?: { utf8Slice?: unknown } } }
      | undefined;
    const slice = buffer?.Buffer?.prototype?.utf8Slice;
    if (typeof slice !== "function") return undefined;
    // The contract utf8Text relies on: malformed bytes become U+FFFD, a BOM is kept.
    const probe = new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xff, 0xc3, 0xa9, 0xed, 0xa0, 0x80]);
    const text = (slice as Slice).call(probe, 0, probe.length);
    return text.startsWith("\uFEFFa\uFFFD\u00E9\uFFFD") ? slice as Slice : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `bytes[start..end)` as text; bytes that are not UTF-8 throw. The strict (`fatal`) decoder
 * costs 3–9× the lenient one, so it runs only when it could matter: a lenient decoder turns
 * every malformed sequence into U+FFFD, so text without one came from valid UTF-8, and text
 * with one is decoded again strictly (a real U+FFFD passes, a malformed sequence throws).
 * Measured in bench/lean_paths_bench.ts: building short ASCII text in JS
 * (`String.fromCharCode.apply`) was slower than either decoder call.
 */
function utf8Text(bytes: Uint8Array, start: number, end: number): string {
  const text = shortUtf8 !== undefined && end - start <= SHORT_TEXT
    ? shortUtf8.call(bytes, start, end)
    : decoder.decode(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  if (text.includes("\uFFFD")) strictDecoder.decode(bytes.subarray(start, end));
  return text;
}

/**
 * A string of the binary form: UTF-8, or WTF-8 when it holds a lone surrogate (UTF-8 with
 * surrogates encoded as themselves, which the strict decoder refuses). JSON text never needs
 * this (JSON escapes lone surrogates), so only the binary form accepts it.
 */
function binaryText(bytes: Uint8Array, start: number, end: number): string {
  try {
    return utf8Text(bytes, start, end);
  } catch (error) {
    return wtf8Text(bytes.subarray(start, end)) ?? throwAgain(error);
  }
}

function throwAgain(error: unknown): never {
  throw error;
}

/** `s` as WTF-8: UTF-8 where a lone surrogate is written as its own 3-byte sequence. */
function wtf8(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return Uint8Array.from(out);
}

/**
 * Strict WTF-8 decoding (overlong forms, bad continuations and values past U+10FFFF refused,
 * and a surrogate pair written as two 3-byte sequences, which {@linkcode wtf8} never writes:
 * it would read back as the character those two bytes' pair stands for, which was stored as 4).
 */
function wtf8Text(bytes: Uint8Array): string | undefined {
  let text = "";
  let afterHigh = false;
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i]!;
    let n: number;
    let c: number;
    if (lead < 0x80) [n, c] = [1, lead];
    else if (lead >= 0xc2 && lead < 0xe0) [n, c] = [2, lead & 0x1f];
    else if (lead >= 0xe0 && lead < 0xf0) [n, c] = [3, lead & 0x0f];
    else if (lead >= 0xf0 && lead < 0xf5) [n, c] = [4, lead & 0x07];
    else return undefined;
    if (i + n > bytes.length) return undefined;
    for (let k = 1; k < n; k++) {
      const next = bytes[i + k]!;
      if ((next & 0xc0) !== 0x80) return undefined;
      c = (c << 6) | (next & 0x3f);
    }
    if ((n === 3 && c < 0x800) || (n === 4 && (c < 0x10000 || c > 0x10ffff))) return undefined;
    if (afterHigh && c >= 0xdc00 && c <= 0xdfff) return undefined;
    afterHigh = c >= 0xd800 && c <= 0xdbff;
    text += String.fromCodePoint(c);
    i += n;
  }
  return text;
}

class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  pos = 2;
  refs = new Map<object, number>();

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  uint(n: number): void {
    this.reserve(8);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  str(s: string): void {
    const n = s.length;
    this.reserve(5 + n * 3);
    if (n < 64) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.buf[this.pos++] = n;
        for (let i = 0; i < n; i++) this.buf[this.pos++] = s.charCodeAt(i);
        return;
      }
    }
    // A lone surrogate has no UTF-8 form (TextEncoder writes U+FFFD): write WTF-8.
    const bytes = s.isWellFormed() ? encoder.encode(s) : wtf8(s);
    this.uint(bytes.length);
    this.bytes(bytes);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  f64(n: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, n, true);
    this.pos += 8;
  }

  value(v: unknown): void {
    switch (typeof v) {
      case "undefined":
        return this.byte(Tag.Undefined);
      case "boolean":
        return this.byte(v ? Tag.True : Tag.False);
      case "number":
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.reserve(5);
          this.buf[this.pos++] = Tag.Int32;
          this.view.setInt32(this.pos, v, true);
          this.pos += 4;
        } else {
          this.byte(Tag.Float64);
          this.f64(v);
        }
        return;
      case "string":
        this.byte(Tag.String);
        return this.str(v);
      case "bigint":
        this.byte(Tag.BigInt);
        return this.str(v.toString());
      case "object":
        if (v === null) return this.byte(Tag.Null);
        return this.object(v);
      default:
        throw new SerializationError(
          `Cannot serialize value: it holds a ${typeof v}, which cannot be cloned`,
        );
    }
  }

  object(o: object): void {
    const ref = this.refs.get(o);
    if (ref !== undefined) {
      this.byte(Tag.Ref);
      return this.uint(ref);
    }
    this.refs.set(o, this.refs.size);
    if (Array.isArray(o)) {
      this.byte(Tag.Array);
      this.uint(o.length);
      for (let i = 0; i < o.length; i++) {
        if (i in o) this.value(o[i]);
        else this.byte(Tag.Hole);
      }
    } else if (o instanceof Date) {
      this.byte(Tag.Date);
      this.f64(o.getTime());
    } else if (o instanceof RegExp) {
      this.byte(Tag.RegExp);
      this.str(o.source);
      this.str(o.flags);
    } else if (o instanceof Map) {
      this.byte(Tag.Map);
      this.uint(o.size);
      for (const [k, val] of o) {
        this.value(k);
        this.value(val);
      }
    } else if (o instanceof Set) {
      this.byte(Tag.Set);
      this.uint(o.size);
      for (const item of o) this.value(item);
    } else if (o instanceof ArrayBuffer) {
      this.byte(Tag.ArrayBuffer);
      this.uint(o.byteLength);
      this.bytes(new Uint8Array(o));
    } else if (_isShared(o)) {
      throw shared(
        o instanceof SharedArrayBuffer ? "a SharedArrayBuffer" : `a ${typeName(o)} over one`,
      );
    } else if (ArrayBuffer.isView(o)) {
      const kind = VIEWS.findIndex((C) => o instanceof (C as unknown as typeof Uint8Array));
      if (kind < 0 || !(o.buffer instanceof ArrayBuffer)) {
        throw new SerializationError(
          `Cannot serialize value: unsupported view ${typeName(o)}`,
        );
      }
      this.byte(Tag.View);
      this.byte(kind);
      this.object(o.buffer);
      this.uint(o.byteOffset);
      this.uint(o instanceof DataView ? o.byteLength : (o as Uint8Array).length);
    } else if (o instanceof DOMException) {
      this.byte(Tag.DOMException);
      this.str(o.name);
      this.str(o.message);
      this.str(o.stack ?? "");
    } else if (o instanceof Error) {
      // Like structuredClone: the seven built-in types keep theirs, any other name reads
      // back as "Error" (message, stack and cause kept).
      this.byte(Tag.Error);
      this.str(ERRORS.has(o.name) ? o.name : "Error");
      this.str(o.message);
      this.str(o.stack ?? "");
      const hasCause = "cause" in o;
      this.byte(hasCause ? 1 : 0);
      if (hasCause) this.value(o.cause);
    } else if (
      o instanceof Number || o instanceof String || o instanceof Boolean ||
      o instanceof BigInt
    ) {
      this.byte(Tag.Boxed);
      this.value(o.valueOf());
    } else if (
      o instanceof Promise || o instanceof WeakMap || o instanceof WeakSet ||
      o instanceof WeakRef
    ) {
      throw new SerializationError(
        `Cannot serialize value: a ${o.constructor.name} cannot be cloned`,
      );
    } else if (o instanceof Blob || (CryptoKeyClass !== undefined && o instanceof CryptoKeyClass)) {
      // structuredClone copies these inside one process, but their contents cannot be
      // read synchronously (Blob) or at all (a non-extractable CryptoKey): refuse, never `{}`.
      throw new SerializationError(
        `Cannot serialize value: a ${typeName(o)} cannot be written as bytes (store ${
          o instanceof Blob ? "await blob.bytes()" : "an exported key"
        } instead)`,
      );
    } else {
      const proto = Object.getPrototypeOf(o);
      if (proto !== Object.prototype && proto !== null) {
        // A class instance or a platform object: structuredClone copies the own enumerable
        // fields of the first and refuses many of the second (URL, Headers, Request, a boxed
        // Symbol). Ask it (once per class) and refuse what it refuses, at any depth.
        const refusal = _cloneRefusal(o);
        if (refusal !== undefined) {
          throw new SerializationError(
            `Cannot serialize value: a ${typeName(o)} cannot be cloned (${refusal.message})`,
            { cause: refusal },
          );
        }
      }
      const keys = Object.keys(o);
      this.byte(Tag.Object);
      this.uint(keys.length);
      for (const key of keys) {
        this.str(key);
        this.value((o as Record<string, unknown>)[key]);
      }
    }
  }
}

/** The refusal of shared memory, which a cache cannot hold as a copy. */
function shared(what: string): SerializationError {
  return new SerializationError(
    `Cannot serialize value: ${what} is shared memory, which a cache cannot store as a copy (copy it into an ArrayBuffer first)`,
  );
}

class Reader {
  pos = 2;
  refs: unknown[] = [];
  view: DataView;
  readonly buf: Uint8Array;
  constructor(bytes: Uint8Array) {
    // A subclass (node's Buffer) has a `slice` that returns a view, not a copy.
    this.buf = bytes.constructor === Uint8Array
      ? bytes
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error("unexpected end of data");
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  uint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 49) throw new Error("length too large");
    }
  }

  str(): string {
    const n = this.uint();
    this.need(n);
    const start = this.pos;
    this.pos += n;
    if (n < 64) {
      let s = "";
      for (let i = start; i < start + n; i++) {
        const c = this.buf[i]!;
        if (c > 0x7f) return binaryText(this.buf, start, start + n);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return binaryText(this.buf, start, start + n);
  }

  f64(): number {
    this.need(8);
    const n = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return n;
  }

  count(): number {
    const n = this.uint();
    // Every item takes at least one byte: a larger count is corrupt.
    if (n > this.buf.length - this.pos) throw new Error("count exceeds data");
    return n;
  }

  value(): unknown {
    const tag = this.byte();
    switch (tag) {
      case Tag.Undefined:
        return undefined;
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.Int32: {
        this.need(4);
        const n = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return n;
      }
      case Tag.Float64:
        return this.f64();
      case Tag.String:
        return this.str();
      case Tag.BigInt: {
        const digits = this.str();
        if (!/^-?[0-9]+$/.test(digits)) throw new Error("bad bigint");
        return BigInt(digits);
      }
      case Tag.Date:
        return this.ref(new Date(this.f64()));
      case Tag.RegExp: {
        const i = this.slot();
        const source = this.str();
        return (this.refs[i] = new RegExp(source, this.str()));
      }
      case Tag.Array: {
        const n = this.count();
        const a: unknown[] = this.ref(new Array(n));
        for (let i = 0; i < n; i++) {
          if (this.buf[this.pos] === Tag.Hole) this.pos++;
          else a[i] = this.value();
        }
        return a;
      }
      case Tag.Object: {
        const n = this.count();
        const o: Record<string, unknown> = this.ref({});
        for (let i = 0; i < n; i++) {
          const key = this.str();
          const v = this.value();
          if (key === "__proto__") {
            Object.defineProperty(o, key, {
              value: v,
              writable: true,
              enumerable: true,
              configurable: true,
            });
          } else o[key] = v;
        }
        return o;
      }
      case Tag.Map: {
        const n = this.count();
        const m = this.ref(new Map<unknown, unknown>());
        for (let i = 0; i < n; i++) m.set(this.value(), this.value());
        return m;
      }
      case Tag.Set: {
        const n = this.count();
        const s = this.ref(new Set<unknown>());
        for (let i = 0; i < n; i++) s.add(this.value());
        return s;
      }
      case Tag.Ref: {
        const i = this.uint();
        if (i >= this.refs.length) throw new Error("bad reference");
        return this.refs[i];
      }
      case Tag.ArrayBuffer: {
        const n = this.uint();
        this.need(n);
        const b = this.buf.slice(this.pos, this.pos + n).buffer;
        this.pos += n;
        return this.ref(b);
      }
      case Tag.View: {
        const i = this.slot();
        const C = VIEWS[this.byte()];
        const buffer = this.value();
        if (!C || !(buffer instanceof ArrayBuffer)) throw new Error("bad view");
        const offset = this.uint();
        return (this.refs[i] = new C(buffer, offset, this.uint()));
      }
      case Tag.Error: {
        const i = this.slot();
        const name = this.str();
        const E = ERRORS.get(name);
        if (E === undefined) throw new Error("bad error name");
        const e = new E(this.str());
        const stack = this.str();
        if (stack) e.stack = stack;
        if (this.byte() === 1) e.cause = this.value();
        return (this.refs[i] = e);
      }
      case Tag.DOMException: {
        const i = this.slot();
        const name = this.str();
        const e = new DOMException(this.str(), name);
        const stack = this.str();
        if (stack) {
          Object.defineProperty(e, "stack", { value: stack, writable: true, configurable: true });
        }
        return (this.refs[i] = e);
      }
      case Tag.Boxed: {
        const i = this.slot();
        return (this.refs[i] = Object(this.value()));
      }
      default:
        throw new Error(`unknown tag ${tag}`);
    }
  }

  ref<T>(o: T): T {
    this.refs.push(o);
    return o;
  }

  slot(): number {
    return this.refs.push(undefined) - 1;
  }
}

/**
 * From this length on, a string value is written in the binary form (raw UTF-8 after a tag)
 * rather than as JSON: reading it back is then one decode, with no `JSON.parse` of a long
 * literal (a 1 MB string: 2.6× a plain decode as JSON, see docs/benchmarks.md). Only
 * well-formed strings: JSON escapes a lone surrogate, UTF-8 cannot carry one.
 */
const LONG_STRING = 1024;

/** A long string value in the binary form: magic, version, `Tag.String`, length, UTF-8. */
function longString(value: string): Uint8Array {
  const text = encoder.encode(value);
  const head = [MAGIC, VERSION, Tag.String];
  for (let n = text.length;; n = Math.floor(n / 0x80)) {
    if (n < 0x80) {
      head.push(n);
      break;
    }
    head.push((n % 0x80) | 0x80);
  }
  const out = new Uint8Array(head.length + text.length);
  out.set(head);
  out.set(text, head.length);
  return out;
}

/**
 * The default serializer of the file and network backends: carries every
 * value the contract allows (including `Date`, `Map`, `Set`, `RegExp`,
 * `BigInt`, typed arrays and cycles), writes plain data as JSON, and raises
 * `SerializationError` for bytes it did not write.
 *
 * @example Round-trip a value JSON cannot carry
 * ```ts
 * import { defaultSerializer } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * const value = { at: new Date(0), tags: new Set(["a"]), big: 2n ** 70n };
 * const copy = defaultSerializer.deserialize(defaultSerializer.serialize(value));
 * assert.deepStrictEqual(copy, { at: new Date(0), tags: new Set(["a"]), big: 1180591620717411303424n });
 * ```
 */
export const defaultSerializer: SyncSerializer = {
  serialize(value: unknown): Uint8Array {
    if (typeof value === "string" && value.length >= LONG_STRING && value.isWellFormed()) {
      return longString(value);
    }
    const w = new Writer();
    try {
      if (_isJsonSafe(value)) return encoder.encode(JSON.stringify(value));
      w.value(value);
    } catch (cause) {
      if (cause instanceof SerializationError) throw cause;
      throw new SerializationError(
        `Cannot serialize value: ${(cause as Error).message}`,
        { cause },
      );
    }
    w.buf[0] = MAGIC;
    w.buf[1] = VERSION;
    return w.buf.subarray(0, w.pos);
  },
  deserialize(bytes: Uint8Array): unknown {
    try {
      if (bytes[0] !== MAGIC) {
        const text = utf8Text(bytes, 0, bytes.length);
        // A byte order mark before JSON text (never written here) is skipped, as it always was.
        return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      }
      if (bytes[1] !== VERSION) throw new Error(`unknown format version ${bytes[1]}`);
      const r = new Reader(bytes);
      const value = r.value();
      if (r.pos !== bytes.length) throw new Error("trailing bytes after the value");
      return value;
    } catch (cause) {
      throw new SerializationError(
        `Cannot deserialize ${bytes.length} bytes: ${(cause as Error).message}`,
        { cause },
      );
    }
  },
};
_freshOutput.add(defaultSerializer);
_synchronous.add(defaultSerializer);
