/**
 * `getOrSet` with production options: stale-while-revalidate, grace (stale-if-error),
 * producer timeouts, refresh-ahead, a process or distributed stampede lock, and the
 * producer's context. {@linkcode BaseCache} owns one {@linkcode Producer} per instance and
 * hands it the key after checking the arguments.
 *
 * A value that may be served stale is stored in an envelope (see {@linkcode wrapEntry}):
 * the value, when it was written and its ttl, under a physical ttl of `ttl + max(swr, grace)`.
 * Plain reads open the envelope: a fresh one gives its value, a stale one is a miss.
 *
 * @module
 */
import { _describe, type Cache, CacheTimeoutError, checkValue, resolveTtl } from "../cache.ts";
import { produceOnce } from "./_lock.ts";
import { checkTags } from "./_tags.ts";

/** How much longer a distributed lock's lease is than the producer's hard timeout. */
const LEASE_MARGIN = 1_000;

/** What a producer is told: its key, an abort signal, the stale value, and two levers. */
export interface ProduceContext<T> {
  /** The key being produced. */
  readonly key: string;
  /** Aborted when the `hard` timeout passes (its `reason` is the `CacheTimeoutError`). */
  readonly signal: AbortSignal;
  /** The stale value being refreshed, when there is one (`undefined` on a plain miss). */
  readonly stale: T | undefined;
  /**
   * The ttl in ms the result is stored with; starts as the call's ttl. Set it from the
   * result (an HTTP `Cache-Control: max-age`, a token's expiry); checked like any ttl.
   */
  ttl: number;
  /**
   * The tags the result is stored with (`invalidateTags` of any of them drops it); starts as the
   * call's `tags` (empty when none). Set it from the result (the tags of the rows it was built
   * from); checked like the option.
   */
  tags: readonly string[];
  /** Returns the result to the callers without storing it (an error page, a partial answer). */
  skip(): void;
}

/** A producer: called with its {@linkcode ProduceContext}; a plain `() => value` works too. */
export type Produce<T> = (context: ProduceContext<T>) => T | Promise<T>;

/** What {@linkcode GetOrSetOptions.onRefreshError} is told besides the error. */
export interface RefreshErrorInfo {
  /** The key whose refresh failed. */
  key: string;
  /**
   * `"background"`: a refresh nobody waited for (stale-while-revalidate, refresh-ahead, a
   * refresh that outlived the soft timeout); `"grace"`: a caller's refresh failed or hit its
   * hard timeout and the caller was served the stale value instead.
   */
  kind: "background" | "grace";
}

/** Options of `getOrSet` (and of `memoize`); a number is the same as `{ ttl }`. */
export interface GetOrSetOptions {
  /** Lifetime of the value in ms; `0` = never expire. Default: the cache's `defaultTtl`. */
  ttl?: number | undefined;
  /**
   * Tags the produced value is stored with, as by `set(key, value, { ttl, tags })`:
   * `invalidateTags` of any of them drops it. An invalidated entry is gone: never served,
   * not even stale within `staleWhileRevalidate` or `grace` (the next call produces).
   */
  tags?: readonly string[] | undefined;
  /**
   * For this many ms after the ttl, a call returns the stale value at once and refreshes it
   * in the background (one refresh per key, however many callers). Default 0.
   */
  staleWhileRevalidate?: number | undefined;
  /**
   * Stale-if-error: for this many ms after the ttl, when `produce` rejects or passes its
   * `hard` timeout, the call returns the stale value (kept as it is) and the failure goes to
   * `onRefreshError`. Default 0.
   */
  grace?: number | undefined;
  /**
   * Bounds on `produce`, in ms. Past `soft`, a caller that holds a stale value gets it and the
   * refresh goes on in the background. Past `hard`, the producer's signal is aborted and the
   * call rejects with a `CacheTimeoutError` (or returns the stale value within `grace`).
   */
  timeout?: { soft?: number | undefined; hard?: number | undefined } | undefined;
  /**
   * A fraction of the ttl, in (0, 1): a hit with less than `refreshAhead × ttl` left returns
   * the value and starts one background refresh. Default 0 (off).
   */
  refreshAhead?: number | undefined;
  /**
   * Who shares one `produce()`: `"process"` (default) the callers in this process,
   * `"distributed"` every process on the same store, through a lock taken with `add`.
   */
  lock?: "process" | "distributed" | undefined;
  /**
   * Told about every refresh failure that no caller saw: background refreshes and failures
   * covered by `grace`. Without it those failures are dropped (the stale value stays).
   */
  onRefreshError?: ((error: unknown, info: RefreshErrorInfo) => void) | undefined;
}

/** The option names `getOrSet` reads. */
export const GET_OR_SET_OPTIONS = [
  "grace",
  "lock",
  "onRefreshError",
  "refreshAhead",
  "staleWhileRevalidate",
  "tags",
  "timeout",
  "ttl",
] as const;

// ---------------------------------------------------------------------------------------------
// The envelope

/** The reserved field that marks an envelope; a user value must not carry it. */
export const ENVELOPE_MARK = "\u0000cachelib:entry";

/**
 * A value stored with the metadata that lets it be served stale. Three fields, because
 * MemoryCache copies the whole envelope on every read: the stale window is not stored, it is
 * the physical ttl (`ttl + max(staleWhileRevalidate, grace)`) the envelope was written with.
 */
export interface Envelope {
  /** When it was written (ms since the epoch, on the writer's clock); marks the envelope. */
  [ENVELOPE_MARK]: number;
  /** The value. */
  v: unknown;
  /** Its logical ttl in ms (> 0): fresh until written-at + ttl. */
  t: number;
}

/** Wraps a value written at `writtenAt` with a logical `ttl`. */
export function wrapEntry(value: unknown, writtenAt: number, ttl: number): Envelope {
  return { [ENVELOPE_MARK]: writtenAt, v: value, t: ttl };
}

/** Whether a stored value is an envelope. */
export function isEnvelope(value: unknown): value is Envelope {
  return typeof value === "object" && value !== null &&
    typeof (value as Record<string, unknown>)[ENVELOPE_MARK] === "number";
}

/**
 * What a plain read returns for a stored value: the value itself, an envelope's value while
 * it is fresh, `undefined` for a stale envelope.
 */
export function openEntry(value: unknown, now: number): unknown {
  if (!isEnvelope(value)) return value;
  return now < value[ENVELOPE_MARK] + value.t ? value.v : undefined;
}

// ---------------------------------------------------------------------------------------------
// The distributed lock

// `produceOnce` (./_lock.ts) takes a lock with the backend's atomic `add` (a lease), so one
// process produces and the others wait for its value; see docs/design.md.

// ---------------------------------------------------------------------------------------------
// The producer

/** Options after checks, with defaults filled in. */
export interface Resolved {
  ttl: number;
  /** Checked, distinct, non-empty; `undefined` when none. */
  tags: string[] | undefined;
  swr: number;
  grace: number;
  soft: number;
  hard: number;
  refreshAhead: number;
  distributed: boolean;
  onRefreshError: ((error: unknown, info: RefreshErrorInfo) => void) | undefined;
}

/** What the producer needs from its cache. */
export interface ProducerHost {
  /** The cache, for the distributed lock. */
  cache: Cache;
  /** The cache's clock. */
  now(): number;
  /** The default ttl. */
  defaultTtl: number;
  /** Reads the stored value (an envelope unopened), counting a hit or a miss. */
  read(key: string): unknown;
  /** Stores a value (already wrapped when it should be), with its tags when it has some. */
  write(
    key: string,
    value: unknown,
    ttl: number,
    tags: readonly string[] | undefined,
  ): Promise<unknown>;
}

/** One produce call in flight for a key. */
interface Flight {
  promise: Promise<unknown>;
  /** Whether callers without a stale value may join it (it started on a miss). */
  joinable: boolean;
}

const isMs = (value: unknown): value is number =>
  typeof value === "number" && value >= 0 && value !== Infinity;

/**
 * The `getOrSet` engine of one cache: coalesces reads and produce calls per key, serves stale
 * values, runs background refreshes and enforces the timeouts.
 */
export class Producer {
  readonly #host: ProducerHost;
  readonly #reads = new Map<string, Promise<unknown>>();
  readonly #flights = new Map<string, Flight>();

  /** @param host What the producer needs from its cache. */
  constructor(host: ProducerHost) {
    this.#host = host;
  }

  /**
   * Checks `options` (a ttl number or {@linkcode GetOrSetOptions}) for `key`.
   *
   * @throws {TypeError} An unknown option or a value of the wrong type.
   * @throws {RangeError} A negative or infinite duration, a `refreshAhead` outside [0, 1).
   */
  resolve(key: string, options: unknown): Resolved {
    if (options === undefined || typeof options === "number") {
      return plain(resolveTtl("getOrSet", key, options, this.#host.defaultTtl));
    }
    // An options object is usually one constant reused on every call: the last one checked is
    // reused while its values are the same (a new or changed object is checked in full).
    const last = this.#last;
    if (options === last?.options && unchanged(options as GetOrSetOptions, last.values)) {
      return last.resolved;
    }
    const resolved = resolveOptions(
      `Cannot getOrSet key ${_describe(key)}`,
      key,
      options,
      this.#host.defaultTtl,
    );
    this.#last = { options, values: valuesOf(options as GetOrSetOptions), resolved };
    return resolved;
  }

  #last: { options: unknown; values: unknown[]; resolved: Resolved } | undefined;

  /** The stored value of `key`, sharing one backend read among concurrent callers. */
  #read(key: string): unknown {
    const pending = this.#reads.get(key);
    if (pending !== undefined) return pending;
    const found = this.#host.read(key);
    if (!(found instanceof Promise)) return found;
    const shared = found.finally(() => {
      if (this.#reads.get(key) === shared) this.#reads.delete(key);
    });
    this.#reads.set(key, shared);
    return shared;
  }

  /** `getOrSet` after the argument checks. */
  run<T>(key: string, produce: Produce<T>, options: Resolved): Promise<T> {
    const flight = this.#flights.get(key);
    if (flight !== undefined && flight.joinable) return flight.promise as Promise<T>;
    let found: unknown;
    try {
      found = this.#read(key);
    } catch (error) {
      return Promise.reject(error);
    }
    if (found instanceof Promise) {
      return found.then((stored) => this.#decide(key, produce, options, stored)) as Promise<T>;
    }
    // The hot path: a plain value found synchronously is returned without further work.
    if (found !== undefined && !isEnvelope(found)) return Promise.resolve(found as T);
    return this.#decide(key, produce, options, found);
  }

  /** What a caller gets for what was stored: the value, the stale value, or a produced one. */
  #decide<T>(key: string, produce: Produce<T>, o: Resolved, stored: unknown): Promise<T> {
    if (stored !== undefined && !isEnvelope(stored)) return Promise.resolve(stored as T);
    if (stored === undefined) return this.#foreground(key, produce, o, undefined);
    const now = this.#host.now();
    const expires = stored[ENVELOPE_MARK] + stored.t;
    const value = stored.v as T;
    if (now < expires) {
      if (o.refreshAhead > 0 && expires - now < o.refreshAhead * stored.t) {
        this.#background(key, produce, o, value);
      }
      return Promise.resolve(value);
    }
    if (now < expires + o.swr) {
      this.#background(key, produce, o, value);
      return Promise.resolve(value);
    }
    if (now < expires + o.grace) return this.#foreground(key, produce, o, value, true);
    return this.#foreground(key, produce, o, undefined);
  }

  /** A refresh nobody waits for: at most one per key; its failure goes to the hook. */
  #background<T>(key: string, produce: Produce<T>, o: Resolved, stale: T): void {
    if (this.#flights.has(key)) return;
    this.#start(key, produce, o, stale, false).promise.catch((error) =>
      report(o, error, { key, kind: "background" })
    );
  }

  /**
   * A caller that needs the result: joins or starts the key's flight. With a stale value
   * (within grace), a failure or the soft timeout gives the stale value instead.
   */
  #foreground<T>(
    key: string,
    produce: Produce<T>,
    o: Resolved,
    stale: T | undefined,
    graced = false,
  ): Promise<T> {
    const flight = this.#flights.get(key);
    const promise = (flight?.promise ?? this.#start(key, produce, o, stale, stale === undefined)
      .promise) as Promise<T>;
    if (!graced) return promise;
    let late = false;
    const withGrace = promise.catch((error) => {
      report(o, error, { key, kind: late ? "background" : "grace" });
      return stale as T;
    });
    if (o.soft === 0) return withGrace;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Past soft: the caller gets the stale value; the refresh goes on and reports alone.
        late = true;
        resolve(stale as T);
      }, o.soft);
      withGrace.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /** Starts the key's one flight: produce (under the lock), store, forget. */
  #start<T>(
    key: string,
    produce: Produce<T>,
    o: Resolved,
    stale: T | undefined,
    joinable: boolean,
  ): { promise: Promise<T> } {
    const host = this.#host;
    const make = () => this.#produceAndStore(key, produce, o, stale);
    const run = o.distributed
      ? produceOnce<T>(
        host.cache,
        key,
        // The lease outlives the producer's hard timeout (memcached counts whole seconds:
        // a second more), and a waiter may outwait one crashed holder's lease and produce.
        {
          lease: LEASE_MARGIN + (o.hard || 30_000),
          deadline: Date.now() + 2 * (LEASE_MARGIN + (o.hard || 30_000)),
        },
        async () => openEntry(await host.read(key), host.now()) as T | undefined,
        make,
      )
      : make();
    const flight: Flight = {
      joinable,
      promise: run.finally(() => {
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
      }),
    };
    this.#flights.set(key, flight);
    return flight as { promise: Promise<T> };
  }

  /** Runs `produce` with its context and the hard timeout, then stores the result. */
  async #produceAndStore<T>(
    key: string,
    produce: Produce<T>,
    o: Resolved,
    stale: T | undefined,
  ): Promise<T> {
    const controller = new AbortController();
    let skipped = false;
    const context: ProduceContext<T> = {
      key,
      signal: controller.signal,
      stale,
      ttl: o.ttl,
      tags: o.tags === undefined ? [] : [...o.tags],
      skip: () => {
        skipped = true;
      },
    };
    let value: T;
    if (o.hard === 0) value = await produce(context);
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new CacheTimeoutError(
            `Cannot getOrSet key ${_describe(key)}: produce did not settle within ${o.hard} ms`,
            { op: "getOrSet", key },
          );
          controller.abort(error);
          reject(error);
        }, o.hard);
      });
      try {
        value = await Promise.race([Promise.resolve().then(() => produce(context)), expired]);
      } finally {
        clearTimeout(timer);
      }
    }
    if (skipped) return value;
    checkValue("getOrSet", key, value);
    const ttl = context.ttl === o.ttl ? o.ttl : resolveTtl("getOrSet", key, context.ttl, 0);
    const given: unknown = context.tags;
    const tags = Array.isArray(given) && given.length === 0
      ? undefined
      : checkTags("getOrSet", key, given);
    const window = Math.max(o.swr, o.grace);
    if (ttl === 0 || (window === 0 && o.refreshAhead === 0)) {
      await this.#host.write(key, value, ttl, tags);
    } else {
      await this.#host.write(key, wrapEntry(value, this.#host.now(), ttl), ttl + window, tags);
    }
    return value;
  }
}

/**
 * Checks {@linkcode GetOrSetOptions} and fills in the defaults.
 *
 * @param where The start of an error message, e.g. `Cannot getOrSet key "a"`.
 * @throws {TypeError} An unknown option or a value of the wrong type.
 * @throws {RangeError} A negative or infinite duration, a `refreshAhead` outside [0, 1).
 */
export function resolveOptions(
  where: string,
  key: string,
  options: unknown,
  defaultTtl: number,
): Resolved {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `${where}: options must be a ttl in ms or an object, received ${_describe(options)}`,
    );
  }
  const o = options as GetOrSetOptions;
  // On every call with an options object, so a loop and a Set rather than Object.keys.
  for (const name in o) {
    if (!ACCEPTED.has(name)) {
      throw new TypeError(
        `${where}: unknown option ${JSON.stringify(name)} (accepted: ${
          GET_OR_SET_OPTIONS.join(", ")
        })`,
      );
    }
  }
  const ms = (name: string, value: unknown): number =>
    value === undefined ? 0 : isMs(value) ? value : badMs(where, name, value);
  const timeout = o.timeout;
  if (timeout !== undefined && (timeout === null || typeof timeout !== "object")) {
    throw new TypeError(
      `${where}: timeout must be an object { soft, hard }, received ${_describe(timeout)}`,
    );
  }
  const soft = ms("timeout.soft", timeout?.soft);
  const hard = ms("timeout.hard", timeout?.hard);
  if (soft > 0 && hard > 0 && soft > hard) {
    throw new RangeError(
      `${where}: timeout.soft (${soft}) must not be greater than timeout.hard (${hard})`,
    );
  }
  const ahead = o.refreshAhead ?? 0;
  if (typeof ahead !== "number" || !(ahead >= 0 && ahead < 1)) {
    throw new (typeof ahead === "number" ? RangeError : TypeError)(
      `${where}: refreshAhead must be a fraction of the ttl in [0, 1), received ${
        _describe(ahead)
      }`,
    );
  }
  if (o.lock !== undefined && o.lock !== "process" && o.lock !== "distributed") {
    throw new TypeError(
      `${where}: lock must be "process" or "distributed", received ${_describe(o.lock)}`,
    );
  }
  if (o.onRefreshError !== undefined && typeof o.onRefreshError !== "function") {
    throw new TypeError(
      `${where}: onRefreshError must be a function, received ${_describe(o.onRefreshError)}`,
    );
  }
  let tags: string[] | undefined;
  if (o.tags !== undefined) {
    tags = checkTags("getOrSet", key, o.tags);
    if (tags.length === 0) tags = undefined;
  }
  return {
    ttl: resolveTtl("getOrSet", key, o.ttl, defaultTtl),
    tags,
    swr: ms("staleWhileRevalidate", o.staleWhileRevalidate),
    grace: ms("grace", o.grace),
    soft,
    hard,
    refreshAhead: ahead,
    distributed: o.lock === "distributed",
    onRefreshError: o.onRefreshError,
  };
}

const ACCEPTED: ReadonlySet<string> = new Set(GET_OR_SET_OPTIONS);

function badMs(where: string, name: string, value: unknown): never {
  if (typeof value !== "number") {
    throw new TypeError(
      `${where}: ${name} must be a number of milliseconds, received ${_describe(value)}`,
    );
  }
  throw new RangeError(`${where}: ${name} must be a finite number >= 0, received ${value}`);
}

/** The values an options object was checked with. */
function valuesOf(o: GetOrSetOptions): unknown[] {
  const t = o.timeout;
  return [
    o.tags,
    o.tags === undefined ? undefined : [...o.tags],
    o.ttl,
    o.staleWhileRevalidate,
    o.grace,
    t,
    t?.soft,
    t?.hard,
    o.refreshAhead,
    o.lock,
    o.onRefreshError,
  ];
}

/** Whether `o` still holds the values it was checked with. */
function unchanged(o: GetOrSetOptions, v: unknown[]): boolean {
  const t = o.timeout;
  return o.tags === v[0] && sameTags(o.tags, v[1] as string[] | undefined) && o.ttl === v[2] &&
    o.staleWhileRevalidate === v[3] && o.grace === v[4] && t === v[5] && t?.soft === v[6] &&
    t?.hard === v[7] && o.refreshAhead === v[8] && o.lock === v[9] && o.onRefreshError === v[10];
}

/** Whether a tags array still holds what it held when checked (an array changed in place). */
function sameTags(now: readonly string[] | undefined, then: string[] | undefined): boolean {
  if (now === undefined || then === undefined) return now === then;
  if (now.length !== then.length) return false;
  for (let i = 0; i < now.length; i++) if (now[i] !== then[i]) return false;
  return true;
}

function plain(ttl: number): Resolved {
  return {
    ttl,
    tags: undefined,
    swr: 0,
    grace: 0,
    soft: 0,
    hard: 0,
    refreshAhead: 0,
    distributed: false,
    onRefreshError: undefined,
  };
}

function report(o: Resolved, error: unknown, info: RefreshErrorInfo): void {
  try {
    o.onRefreshError?.(error, info);
  } catch {
    // A hook that throws must not turn a served value into a failure.
  }
}
