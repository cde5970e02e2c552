/**
 * {@linkcode memoize} and the {@linkcode memoized} method decorator: cache a
 * function's results in any {@linkcode Cache}, with single-flight.
 *
 * @module
 */
import { _describe, type Cache, checkOptionNames } from "./cache.ts";
import { MemoryCache } from "./backends/memory.ts";
import { _isClosed, _storeIdOf, BaseCache, ByteCache } from "./backends/_base.ts";
import { _argsKeyer, _unchanged } from "./_memo_keys.ts";
import {
  GET_OR_SET_OPTIONS,
  type GetOrSetOptions,
  isEnvelope,
  type ProduceContext,
  resolveOptions,
} from "./backends/_get_or_set.ts";
import { _copyPlain, _shareable } from "./backends/memory/_copy.ts";
import { _isJsonSafe } from "./serializers/_json_safe.ts";

/**
 * Options of {@linkcode memoize}. Besides its own, it takes `getOrSet`'s production options
 * (`staleWhileRevalidate`, `grace`, `timeout`, `refreshAhead`, `lock`, `onRefreshError`, `tags`;
 * see {@linkcode GetOrSetOptions}), applied to every call: with `tags`, `invalidateTags` of one
 * of them drops every stored result.
 */
export interface MemoizeOptions<Args extends unknown[] = unknown[]>
  extends Omit<GetOrSetOptions, "ttl"> {
  /** Where results live. Default: a new `MemoryCache` (500 entries, 5-minute ttl) for this function alone. */
  cache?: Cache | undefined;
  /** Lifetime of a result in ms; `0` = never expire. Default: the cache's `defaultTtl`. */
  ttl?: number | undefined;
  /** Derives the key from the arguments, instead of encoding them all. */
  key?: ((...args: Args) => string) | undefined;
  /** `true` keys `f(1)` and `f("1")` apart. Default `false`. */
  typed?: boolean | undefined;
  /**
   * `true` hands every caller the same deep-frozen result instead of a copy each: a result
   * that is plain data (objects, arrays, strings, finite numbers, booleans, `null`) is copied
   * once and frozen (`Object.freeze` at every level), so a hit over a `MemoryCache` copies
   * nothing, and a caller that writes to it gets a `TypeError` (in strict-mode code, such as
   * any module) rather than changing what others read. Other results (a `Date`, `Map`, … anywhere inside) are copied per hit as
   * without it. Default `false`: a `MemoryCache` hands each caller its own mutable copy.
   */
  freeze?: boolean | undefined;
  /**
   * Starts every key; functions sharing a cache need different prefixes (a second,
   * different function under a prefix already used on the same cache is a `TypeError`).
   * Default: the function's name (required for an anonymous function given a `cache`).
   */
  prefix?: string | undefined;
}

/** A memoized function: `fn`'s parameters, a promise of its result, and helpers. */
export interface Memoized<This, Args extends unknown[], R> {
  /** The cached result for these arguments, or `fn`'s result, stored and returned. */
  (this: This, ...args: Args): Promise<R>;
  /** Calls `fn` directly: no cache read, nothing stored. */
  uncached(this: This, ...args: Args): Promise<R>;
  /** Drops the entry for these arguments; `true` when one was removed. */
  invalidate(...args: Args): Promise<boolean>;
  /** The cache key for these arguments. */
  keyFor(...args: Args): string;
  /** The cache holding the results. */
  readonly cache: Cache;
}

// `undefined` cannot be stored (it reads back as a miss), so it is stored as
// { [MARK]: 0 }; a real result that is an object with a MARK field is wrapped
// as { [MARK]: 1, value }, so no result is ever mistaken for the encoding.
const MARK = "$memoize";

function encodeResult(value: unknown): unknown {
  if (value === undefined) return { [MARK]: 0 };
  if (typeof value === "object" && value !== null && Object.hasOwn(value, MARK)) {
    return { [MARK]: 1, value };
  }
  return value;
}

function decodeResult(stored: unknown): unknown {
  if (typeof stored !== "object" || stored === null || !Object.hasOwn(stored, MARK)) {
    return stored;
  }
  const wrapper = stored as { [MARK]: unknown; value?: unknown };
  return wrapper[MARK] === 0 ? undefined : wrapper.value;
}

/**
 * `value` as deep-frozen plain data registered as {@linkcode _shareable}: itself when it
 * already is, frozen in place when `owned` (a fresh copy nobody else holds), else a frozen
 * copy. Anything else (a primitive, a `Date` or `Map` inside) is returned as it is.
 */
function shareable(value: unknown, owned: boolean): unknown {
  if (typeof value !== "object" || value === null || _shareable.has(value)) return value;
  let copy: unknown;
  try {
    if (!_isJsonSafe(value)) return value;
    copy = owned ? value : _copyPlain(value);
  } catch {
    return value; // a getter that throws: the cache reports it when storing
  }
  deepFreeze(copy);
  _shareable.add(copy as object);
  return copy;
}

/** Freezes plain data at every level (no cycles: `_isJsonSafe` refused them). */
function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  Object.freeze(value);
  for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
}

/** The `getOrSet` options memoize passes through unchanged (all but `ttl`, which it resolves). */
const GET_OR_SET_EXTRAS = GET_OR_SET_OPTIONS.filter(
  (name): name is Exclude<typeof name, "ttl"> => name !== "ttl",
);

/** Calls `run` now; its result, or what it throws, as a promise. */
function settle<T>(run: () => T): Promise<Awaited<T>> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What a producer returns when its arguments changed under it: handed out, never stored. */
class Changed {
  constructor(readonly value: unknown) {}
}

/** How many argument keys a memoized function remembers (see `recent` in `_memoCore`). */
const RECENT_KEYS = 256;

/** How many argument lists holding objects a memoized function remembers the keys of. */
const RECENT_SNAPSHOTS = 2;
/** After this many calls in a row whose arguments matched no snapshot, … */
const SNAPSHOT_STREAK = 4;
/** … this many calls neither check nor record snapshots. */
const SNAPSHOT_PAUSE = 256;

/** The option names `memoize` reads. */
const MEMOIZE_OPTIONS = [
  "cache",
  "freeze",
  "key",
  "prefix",
  "ttl",
  "typed",
  ...GET_OR_SET_EXTRAS,
] as const;

type Owners = Map<string, WeakRef<(...args: never[]) => unknown>>;

/**
 * Which function owns each prefix, per store: a second, different function
 * under a used prefix would read the first one's results, so it is refused.
 * Caches that name their store (two `FileSystemCache`s on one directory, two
 * `RedisCache`s on one database and key prefix) share one registry; any other
 * cache is its own store. Owners are held weakly: a collected function frees
 * its prefix.
 */
const ownersByCache = new WeakMap<Cache, Owners>();
const ownersByStore = new Map<string, Owners>();

function ownersOf(cache: Cache): Owners {
  const store = cache instanceof BaseCache ? _storeIdOf(cache) : undefined;
  let byPrefix = store === undefined ? ownersByCache.get(cache) : ownersByStore.get(store);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    if (store === undefined) ownersByCache.set(cache, byPrefix);
    else ownersByStore.set(store, byPrefix);
  }
  return byPrefix;
}

/** Records `fn` as the owner of `prefix` on `cache`; throws if another function owns it. */
function claimPrefix(
  cache: Cache,
  prefix: string,
  fn: (...args: never[]) => unknown,
  what: string,
): void {
  const byPrefix = ownersOf(cache);
  const owner = byPrefix.get(prefix)?.deref();
  if (owner === fn) return;
  if (owner !== undefined) {
    throw new TypeError(
      `${what}: prefix ${
        JSON.stringify(prefix)
      } is already used on this cache by another function (${
        _describe(owner)
      }); give each function its own prefix, or their results would be mixed`,
    );
  }
  byPrefix.set(prefix, new WeakRef(fn));
}

/** The machinery behind `memoize` and `@memoized`: `this` is explicit. */
export interface _MemoCore {
  readonly cache: Cache;
  keyOf(self: unknown, args: readonly unknown[]): string;
  call(self: unknown, args: readonly unknown[]): Promise<unknown>;
}

/**
 * Builds the memo machinery; `thisKey` adds the receiver to the key. The
 * default prefix is a string, or (for a method) derived from the receiver on
 * first use, when the class that declares the method can be found.
 */
export function _memoCore(
  fn: (...args: never[]) => unknown,
  options: MemoizeOptions<never[]>,
  defaultPrefix: string | ((self: unknown) => string),
  thisKey?: (self: unknown) => string,
  accepted: readonly string[] = MEMOIZE_OPTIONS,
): _MemoCore {
  const what = `Cannot memoize ${_describe(fn)}`;
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot memoize: fn must be a function, received ${_describe(fn)}`);
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${what}: options must be an object, received ${_describe(options)}`);
  }
  checkOptionNames(`memoized ${_describe(fn)}`, options, accepted);
  const { cache = new MemoryCache(), ttl, key, typed = false, freeze = false } = options;
  if (typeof cache?.getOrSet !== "function") {
    throw new TypeError(`${what}: cache must be a Cache, received ${_describe(cache)}`);
  }
  if (ttl !== undefined && typeof ttl !== "number") {
    throw new TypeError(
      `${what}: ttl must be a number of milliseconds, received ${_describe(ttl)}`,
    );
  }
  if (ttl !== undefined && (!(ttl >= 0) || ttl === Infinity)) {
    throw new RangeError(`${what}: ttl must be a finite number >= 0, received ${ttl}`);
  }
  if (typeof freeze !== "boolean") {
    throw new TypeError(`${what}: freeze must be a boolean, received ${_describe(freeze)}`);
  }
  if (key !== undefined && typeof key !== "function") {
    throw new TypeError(`${what}: key must be a function, received ${_describe(key)}`);
  }
  // getOrSet's production options, checked now and passed on every call; none: the ttl alone.
  let perCall: number | GetOrSetOptions | undefined = ttl;
  const extras = GET_OR_SET_EXTRAS.filter((name) => options[name] !== undefined);
  if (extras.length > 0) {
    perCall = { ttl };
    for (const name of extras) (perCall as Record<string, unknown>)[name] = options[name];
    resolveOptions(what, "", perCall, 0);
  }
  const fixed = options.prefix ?? defaultPrefix;
  if (typeof fixed !== "string" && (options.prefix !== undefined || typeof fixed !== "function")) {
    throw new TypeError(`${what}: prefix must be a string, received ${_describe(fixed)}`);
  }
  if (fixed === "" && options.cache !== undefined && options.prefix === undefined) {
    throw new TypeError(
      `${what}: an anonymous function over a shared cache needs a prefix, or its keys could collide with another function's`,
    );
  }
  let prefix: string | undefined;
  if (typeof fixed === "string") claimPrefix(cache, prefix = fixed, fn, what);
  const prefixOf = (self: unknown): string => {
    if (prefix !== undefined) return prefix;
    const derived = (fixed as (self: unknown) => string)(self);
    claimPrefix(cache, derived, fn, what);
    return prefix = derived;
  };
  const keyer = _argsKeyer(typed);
  const custom = key as ((...args: unknown[]) => unknown) | undefined;
  const call = fn as (...args: unknown[]) => unknown;

  // The keys of recent single number/short string arguments, so a hit on f(12) builds no
  // strings (the key is the same text every time). Bounded; dropped whole when full.
  const recent = custom === undefined && thisKey === undefined
    ? new Map<unknown, string>()
    : undefined;

  // The keys of the last few argument lists that held an object, each with a snapshot of
  // what it was derived from (see `_unchanged`): arguments equal to one of them, the same
  // objects unchanged or new objects with the same content, reuse its key (no walk, no
  // strings). Content-keyed all the same: a mutated argument fails the check.
  // Arguments that change every call would pay for a failed check and a recording each
  // time: after STREAK such calls in a row, snapshots rest for the next PAUSE calls.
  const snapshots: { snapshot: unknown[]; key: string }[] = [];
  let nextSnapshot = 0;
  let streak = 0;
  let pause = 0;

  const keyOf = (self: unknown, args: readonly unknown[]): string => {
    // Map keys 0 and -0 alike, which typed keys tell apart: -0 never uses the map.
    if (recent !== undefined && args.length === 1 && !Object.is(args[0], -0)) {
      const arg = args[0];
      const known = recent.get(arg);
      if (known !== undefined) return known;
      if (typeof arg === "number" || (typeof arg === "string" && arg.length <= 64)) {
        const key = `${prefixOf(self)}(${keyer(args)})`;
        if (recent.size >= RECENT_KEYS) recent.clear();
        recent.set(arg, key);
        return key;
      }
    }
    let withObject = false;
    if (recent !== undefined) {
      for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (typeof arg === "object" && arg !== null) {
          withObject = true;
          break;
        }
      }
      if (withObject && pause > 0) {
        pause--;
        withObject = false;
      } else if (withObject) {
        for (let i = 0; i < snapshots.length; i++) {
          const known = snapshots[i]!;
          if (_unchanged(args, known.snapshot)) {
            streak = 0;
            return known.key;
          }
        }
        if (++streak >= SNAPSHOT_STREAK) {
          streak = 0;
          pause = SNAPSHOT_PAUSE;
        }
      }
    }
    let part: unknown;
    const out = withObject ? { snapshot: undefined as unknown[] | undefined } : undefined;
    if (custom === undefined) part = keyer(args, out);
    else {
      part = custom.apply(self, args as unknown[]);
      if (typeof part !== "string") {
        throw new TypeError(`${what}: key must return a string, returned ${_describe(part)}`);
      }
    }
    const start = prefixOf(self);
    const head = thisKey === undefined ? start : `${start}@${JSON.stringify(thisKey(self))}`;
    const key = `${head}(${part})`;
    if (out?.snapshot !== undefined) {
      snapshots[nextSnapshot] = { snapshot: out.snapshot, key };
      nextSnapshot = (nextSnapshot + 1) % RECENT_SNAPSHOTS;
    }
    return key;
  };

  // The hit path over a MemoryCache reads its store synchronously: no getOrSet machinery,
  // one promise per hit (bench/lean_paths_bench.ts). A miss, a closed cache and every other
  // cache take getOrSet. Only valid while memoize passes getOrSet nothing a hit must see
  // (options that act on hits, such as a refresh ahead of expiry, must turn it off).
  const onHits = typeof perCall === "object" &&
    (perCall.staleWhileRevalidate !== undefined || perCall.grace !== undefined ||
      perCall.refreshAhead !== undefined || perCall.tags !== undefined);
  const memory = cache instanceof MemoryCache && !onHits ? cache : undefined;
  // With `freeze`, what a ByteCache read gives is a fresh decode: frozen in place, not copied.
  const fresh = cache instanceof ByteCache;
  const decode = freeze
    ? (stored: unknown) => decodeResult(shareable(stored, fresh))
    : decodeResult;

  /** Whether `args` no longer give `key` (only argument objects can change; a custom `key` is trusted). */
  const argsChanged = (self: unknown, args: readonly unknown[], key: string): boolean => {
    if (custom !== undefined) return false;
    let withObject = false;
    for (let i = 0; i < args.length; i++) {
      if (typeof args[i] === "object" && args[i] !== null) withObject = true;
    }
    if (!withObject) return false;
    try {
      return keyOf(self, args) !== key;
    } catch {
      return true;
    }
  };

  const core: _MemoCore = {
    cache,
    keyOf,
    call(self, args) {
      let key: string;
      try {
        key = keyOf(self, args);
      } catch (error) {
        return Promise.reject(error);
      }
      // `_isLive` counts nothing, so a miss is counted once, by getOrSet.
      if (memory !== undefined && !_isClosed(memory) && memory.store._isLive(key)) {
        const hit = memory.store.get(key);
        // An entry getOrSet wrote with stale metadata (another memoize of this prefix with
        // hit options) is opened by getOrSet, never handed out raw.
        if (!isEnvelope(hit)) {
          return Promise.resolve(freeze ? decode(hit) : decodeResult(hit));
        }
      }
      // Single-flight comes from the cache: concurrent callers of one key share one call.
      let own = false;
      let skipped = false;
      const produce = async (context?: ProduceContext<unknown>) => {
        own = true;
        const result = await call.apply(self, args as unknown[]);
        const value = freeze ? shareable(encodeResult(result), false) : encodeResult(result);
        // An argument object changed while fn ran (or before it started, while the cache was
        // read): the result is not the one of `key`, so it is not stored under it.
        if (!argsChanged(self, args, key)) return value;
        if (typeof context?.skip === "function") {
          context.skip();
          skipped = true;
        }
        return new Changed(value);
      };
      const changed = async (value: Changed) => {
        // A cache whose getOrSet cannot skip the store stored it: dropped again.
        if (own && !skipped) await cache.delete(key);
        // The caller whose arguments changed gets fn's result for them; a caller that joined
        // its flight with arguments still of `key` asks again.
        return own ? decode(value.value) : core.call(self, args);
      };
      return cache.getOrSet(key, produce, perCall).then((value) =>
        value instanceof Changed ? changed(value) : decode(value)
      );
    },
  };
  return core;
}

/**
 * Caches `fn`'s results by its arguments. Keys are derived deterministically
 * (object fields sorted; `Date`, `Map`, `Set`, `BigInt` keyed by content), so
 * a persistent cache serves the same entries to the next process. Concurrent
 * calls with the same key, on the same cache instance, share one call of `fn`;
 * a rejection is not cached and the next call tries again; an `undefined`
 * result is cached like any other.
 *
 * @param fn The function to cache; sync or async, `this` is passed through.
 * @param options See {@linkcode MemoizeOptions}.
 * @returns An async function with `fn`'s parameters, plus `.uncached`,
 * `.invalidate`, `.keyFor` and `.cache`.
 * @throws {TypeError} Bad options ({@linkcode RangeError} for a negative ttl); the returned function rejects with a
 * `TypeError` naming the argument when one cannot be keyed (a function, a
 * symbol, a class instance) and no `key` is given.
 *
 * @example Memoize a slow lookup
 * ```ts
 * import { memoize, MemoryCache } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * let runs = 0;
 * async function square(n: number): Promise<number> {
 *   runs++;
 *   return n * n;
 * }
 * await using cache = new MemoryCache();
 * const fastSquare = memoize(square, { cache, ttl: 60_000 });
 * assert.deepEqual([await fastSquare(12), await fastSquare(12), runs], [144, 144, 1]);
 * assert.equal(fastSquare.keyFor(12), 'square("12")');
 * await fastSquare.invalidate(12);
 * ```
 */
export function memoize<This, Args extends unknown[], R>(
  fn: (this: This, ...args: Args) => R,
  options: MemoizeOptions<Args> = {},
): Memoized<This, Args, Awaited<R>> {
  const core = _memoCore(
    fn as (...args: never[]) => unknown,
    options as MemoizeOptions<never[]>,
    typeof fn === "function" ? fn.name : "",
  );
  const memoized = function (this: This, ...args: Args) {
    return core.call(this, args);
  } as Memoized<This, Args, Awaited<R>>;
  memoized.uncached = function (this: This, ...args: Args) {
    return settle(() => fn.apply(this, args)) as Promise<Awaited<R>>;
  };
  memoized.invalidate = async (...args: Args) =>
    await core.cache.delete(core.keyOf(undefined, args));
  memoized.keyFor = (...args: Args) => core.keyOf(undefined, args);
  Object.defineProperty(memoized, "cache", { value: core.cache, enumerable: true });
  return memoized;
}

/** Options of the {@linkcode memoized} decorator. */
export interface MemoizedOptions extends Omit<MemoizeOptions, "key"> {
  /** Derives the key from the method's arguments (called with the instance as `this`). */
  key?: ((...args: never[]) => string) | undefined;
  /**
   * Puts the instance into the key: `true` by identity (entries live as long
   * as this process), or a function giving a stable id such as `(self) => self.id`.
   * Default `false`: every instance shares the results.
   */
  bindThis?: boolean | ((self: never) => string) | undefined;
}

/**
 * A method decorated with {@linkcode memoized}, seen with its helpers, which
 * take the instance first: `(obj.load as MemoizedMethod<Repo, [number], User>).invalidate(obj, 1)`.
 */
export interface MemoizedMethod<This, Args extends unknown[], R> {
  /** The cached result, or the method's result, stored and returned. */
  (this: This, ...args: Args): Promise<R>;
  /** Calls the original method: no cache read, nothing stored. */
  uncached(self: This, ...args: Args): Promise<R>;
  /** Drops the entry for this instance and these arguments. */
  invalidate(self: This, ...args: Args): Promise<boolean>;
  /** The cache key for this instance and these arguments. */
  keyFor(self: This, ...args: Args): string;
  /** The cache holding the results. */
  readonly cache: Cache;
}

/** The decorator {@linkcode memoized} returns, for any async method. */
export type MethodMemoizer = <This, Args extends unknown[], R>(
  method: (this: This, ...args: Args) => Promise<R>,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<R>>,
) => (this: This, ...args: Args) => Promise<R>;

/** The option names `@memoized` reads. */
const MEMOIZED_OPTIONS = ["bindThis", ...MEMOIZE_OPTIONS] as const;

/**
 * The default prefix of a decorated method: `Class#method` for an instance
 * method, `Class.method` for a static one, naming the class that declares it
 * (found on `self`'s prototype chain), so two classes' methods never share
 * keys and the prefix is the same in every process.
 */
function methodPrefix(
  self: unknown,
  replacement: unknown,
  context: { readonly name: string | symbol; readonly static: boolean },
): string {
  const name = String(context.name);
  let home: unknown = self;
  while ((typeof home === "object" || typeof home === "function") && home !== null) {
    const own = Object.getOwnPropertyDescriptor(home, context.name);
    if (own?.value === replacement) {
      const owner = context.static ? home : (home as { constructor?: unknown }).constructor;
      const className = typeof owner === "function" ? owner.name : "";
      return `${className}${context.static ? "." : "#"}${name}`;
    }
    home = Object.getPrototypeOf(home);
  }
  throw new TypeError(
    `Cannot memoize method ${name}: cannot find the class that declares it on ${
      _describe(self)
    }; call it on its class or an instance, or give a prefix`,
  );
}

function identityKey(): (self: unknown) => string {
  // Ids are process-local, so a random tag keeps two processes sharing a
  // cache from reading each other's instances.
  const tag = crypto.randomUUID().slice(0, 8);
  const ids = new WeakMap<object, number>();
  let next = 0;
  return (self) => {
    if ((typeof self !== "object" && typeof self !== "function") || self === null) {
      return String(self);
    }
    let id = ids.get(self);
    if (id === undefined) ids.set(self, id = ++next);
    return `#${tag}.${id}`;
  };
}

/**
 * A TC39 standard method decorator that memoizes an async method, like
 * {@linkcode memoize}. By default every instance shares the results (the key
 * is the arguments); `bindThis` puts the instance into the key. The default
 * cache is a new `MemoryCache` per decorated method and the default prefix
 * names the class and the method (`Repo#user`, or `Repo.user` for a static
 * method), so methods of two classes over one cache never share entries.
 *
 * @param options See {@linkcode MemoizedOptions}.
 * @returns The decorator.
 *
 * @example Memoize a method per instance
 * ```ts
 * import { memoized } from "@cachelib/cachelib";
 * import assert from "node:assert/strict";
 *
 * class Repo {
 *   calls = 0;
 *   constructor(readonly id: string) {}
 *
 *   @memoized({ ttl: 60_000, bindThis: (self: Repo) => self.id })
 *   async user(id: number): Promise<{ id: number; repo: string }> {
 *     this.calls++;
 *     return { id, repo: this.id };
 *   }
 * }
 *
 * const repo = new Repo("main");
 * await repo.user(1);
 * assert.deepEqual([await repo.user(1), repo.calls], [{ id: 1, repo: "main" }, 1]);
 * ```
 */
export function memoized(options: MemoizedOptions = {}): MethodMemoizer {
  return function <This, Args extends unknown[], R>(
    method: (this: This, ...args: Args) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<R>>,
  ): (this: This, ...args: Args) => Promise<R> {
    const { bindThis = false, ...rest } = options ?? {};
    let thisKey: ((self: unknown) => string) | undefined;
    if (bindThis === true) thisKey = identityKey();
    else if (typeof bindThis === "function") {
      const derive = bindThis as (self: unknown) => unknown;
      thisKey = (self) => {
        const id = derive(self);
        if (typeof id !== "string") {
          throw new TypeError(
            `Cannot memoize method ${
              String(context.name)
            }: bindThis must return a string, returned ${_describe(id)}`,
          );
        }
        return id;
      };
    } else if (bindThis !== false) {
      throw new TypeError(
        `Cannot memoize method ${
          String(context.name)
        }: bindThis must be a boolean or a function, received ${_describe(bindThis)}`,
      );
    }
    const core = _memoCore(
      method as (...args: never[]) => unknown,
      rest as MemoizeOptions<never[]>,
      (self) => methodPrefix(self, replacement, context),
      thisKey,
      MEMOIZED_OPTIONS,
    );
    const replacement = function (this: This, ...args: Args) {
      return core.call(this, args) as Promise<R>;
    } as MemoizedMethod<This, Args, R>;
    replacement.uncached = (self: This, ...args: Args) => settle(() => method.apply(self, args));
    replacement.invalidate = async (self: This, ...args: Args) =>
      await core.cache.delete(core.keyOf(self, args));
    replacement.keyFor = (self: This, ...args: Args) => core.keyOf(self, args);
    Object.defineProperty(replacement, "cache", { value: core.cache, enumerable: true });
    return replacement;
  };
}
