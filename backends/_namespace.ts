/**
 * Namespaces: `cache.namespace("users")` is a {@linkcode Cache} view over its parent whose
 * keys live under their own prefix and whose `clear()` drops only them, on every backend.
 *
 * A view stores `key` in its parent as `"\0cachelib:ns\0" + name.length + ":" + name + "\0" +
 * generation + "\0" + key`. The generation is an integer in the parent under the reserved key
 * `"\0cachelib:gen\0" + name`, created with a random start and no ttl. `clear()` is one `inc`
 * of it (atomic where the parent's `inc` is): every old entry becomes unreachable at once and
 * ages out by its ttl or by eviction — no scan. Both keys begin with the reserved prefix
 * (`RESERVED_PREFIX` in `_tags.ts`), so the parent's `keys()` lists neither; the view's `keys()`
 * lists its own live entries of the current generation, by the names they were given. The view
 * caches the generation for `generationTtl` ms (default 1 000), so a namespaced read costs one
 * parent read; another process sees a `clear()` within that bound. Views of one name over one
 * parent in one process share that cache, so once `clear()` resolves here, no read here returns
 * an old entry.
 *
 * Built only on the public `Cache` interface, so it works over every backend, and over a view
 * (nested namespaces: `a.namespace("b")` keeps b's generation inside a, so clearing a clears b).
 *
 * @module
 */
import { _describe, type Cache, CacheError, checkDefaultTtl, checkOptionNames } from "../cache.ts";
import { _clockOf, _entryOf, _storeIdOf, BaseCache, type CounterOp } from "./_base.ts";
import { RESERVED_PREFIX } from "./_tags.ts";

/** Options of `cache.namespace(name, options)`. */
export interface NamespaceOptions {
  /**
   * How long in ms the view trusts the generation it read: the bound on how late another
   * process sees this namespace's `clear()`. `0` reads it on every call (one more parent read).
   * Default 1 000.
   */
  generationTtl?: number | undefined;
  /** The ttl in ms of entries stored without one; default: the parent's `defaultTtl`. */
  defaultTtl?: number | undefined;
}

/** A namespace view (see the module doc): a {@linkcode Cache} with its name and parent. */
export interface NamespaceView extends Cache {
  /** The name given to `namespace()`. */
  readonly namespaceName: string;
  /** The cache the view stores in. */
  readonly parent: Cache;
  /** Creates a view nested in this one. */
  namespace(name: string, options?: NamespaceOptions): NamespaceView;
}

const ACCEPTED = ["generationTtl", "defaultTtl"] as const;
const DEFAULT_GENERATION_TTL = 1_000;
/** How many parent keys a view keeps built (dropped all at once when full). */
const NAME_CACHE = 1_024;

/** The parent key of a namespace's generation. */
export const generationKey = (name: string): string => `${RESERVED_PREFIX}gen\u0000${name}`;

/** What the views of one name over one parent share in a process. */
interface Generation {
  value: number | undefined;
  readAt: number;
  /** Bumped by every local clear, so a read that started before it cannot install its answer. */
  epoch: number;
  pending: Promise<number> | undefined;
}

const shared = new WeakMap<Cache, Map<string, Generation>>();

function generationOf(parent: Cache, name: string): Generation {
  let byName = shared.get(parent);
  if (!byName) shared.set(parent, byName = new Map());
  let state = byName.get(name);
  if (!state) {
    byName.set(name, state = { value: undefined, readAt: 0, epoch: 0, pending: undefined });
  }
  return state;
}

/** A random start for a new generation, so one evicted and re-created cannot revive old entries. */
function randomStart(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! >>> 1;
}

/** Rethrows the parent's `error` about `full` as an error about the view's `key`. */
function rename(error: unknown, full: string, key: string): never {
  if (error instanceof Error) {
    const from = _describe(full);
    if (error.message.includes(from)) {
      const to = _describe(key);
      error.message = error.message.replaceAll(from, to);
      if (error.stack) error.stack = error.stack.replaceAll(from, to);
    }
    if ((error as { key?: unknown }).key === full) {
      try {
        Object.defineProperty(error, "key", { value: key });
      } catch { /* a frozen error keeps its key */ }
    }
  }
  throw error;
}

// Defined on first use: `_base.ts` imports this module for `namespace()`, and a class that
// extends BaseCache cannot be evaluated while `_base.ts` is still loading.
let View:
  | (new (parent: Cache, name: string, options: NamespaceOptions) => NamespaceView)
  | undefined;

/**
 * Creates the namespace `name` over `parent` (what `BaseCache.namespace` calls).
 *
 * @throws {TypeError} `name` is not a string, or an unknown or bad option.
 */
export function createNamespace(
  parent: Cache,
  name: string,
  options: NamespaceOptions = {},
): NamespaceView {
  if (typeof name !== "string") {
    throw new TypeError(`Cannot namespace: name must be a string, received ${_describe(name)}`);
  }
  checkOptionNames("namespace", options, ACCEPTED);
  const ttl = options.generationTtl ?? DEFAULT_GENERATION_TTL;
  if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < 0) {
    throw new (typeof ttl === "number" ? RangeError : TypeError)(
      `Cannot namespace ${_describe(name)}: generationTtl must be a finite number >= 0, received ${
        _describe(ttl)
      }`,
    );
  }
  View ??= defineView();
  return new View(parent, name, options);
}

function defineView() {
  return class NamespaceViewImpl extends BaseCache implements NamespaceView {
    readonly namespaceName: string;
    readonly parent: Cache;
    readonly #generationTtl: number;
    readonly #generation: Generation;
    readonly #genKey: string;
    readonly #head: string;
    readonly #clock: () => number;
    readonly #names = new Map<string, string>();
    #namesOf = -1;

    constructor(parent: Cache, name: string, options: NamespaceOptions) {
      const clock = parent instanceof BaseCache ? _clockOf(parent) : Date.now;
      const parentTtl = (parent as { defaultTtl?: unknown }).defaultTtl;
      super({
        defaultTtl: options.defaultTtl ??
          (typeof parentTtl === "number" ? checkDefaultTtl(parentTtl, "namespace") : undefined),
        now: clock,
      });
      this.namespaceName = name;
      this.parent = parent;
      this.#clock = clock;
      this.#generationTtl = options.generationTtl ?? DEFAULT_GENERATION_TTL;
      this.#generation = generationOf(parent, name);
      this.#genKey = generationKey(name);
      this.#head = `${RESERVED_PREFIX}ns\u0000${name.length}:${name}\u0000`;
    }

    /** The current generation: cached (no await) while fresh, else read from the parent. */
    #current(): number | Promise<number> {
      const state = this.#generation;
      if (state.value !== undefined && this.#clock() - state.readAt < this.#generationTtl) {
        return state.value;
      }
      return state.pending ??= this.#read().finally(() => state.pending = undefined);
    }

    async #read(): Promise<number> {
      const state = this.#generation;
      const epoch = state.epoch;
      const readAt = this.#clock();
      let value = await this.parent.get<unknown>(this.#genKey);
      if (value === undefined) {
        // A new generation never expires; a lost race to create it reads the winner's.
        const start = randomStart();
        value = await this.parent.add(this.#genKey, start, 0)
          ? start
          : await this.parent.get<unknown>(this.#genKey);
      }
      if (typeof value !== "number" || !Number.isInteger(value)) {
        throw new CacheError(
          `Cannot read the generation of namespace ${
            _describe(this.namespaceName)
          }: its reserved key holds ${_describe(value)}, not an integer`,
          { op: "namespace", key: this.#genKey },
        );
      }
      if (state.epoch === epoch) {
        state.value = value;
        state.readAt = readAt;
      }
      return value;
    }

    /** The parent key of `key` under generation `generation`. */
    #full(generation: number, key: string): string {
      // Recently built parent keys are reused: a new string is hashed again by every Map
      // lookup below (measured: most of a namespaced memory hit's extra cost).
      if (generation !== this.#namesOf) {
        this.#names.clear();
        this.#namesOf = generation;
      }
      let full = this.#names.get(key);
      if (full === undefined) {
        if (this.#names.size >= NAME_CACHE) this.#names.clear();
        this.#names.set(key, full = `${this.#head}${generation}\u0000${key}`);
      }
      return full;
    }

    /** Calls `body` with the parent key of `key` (synchronously when the generation is cached). */
    #with<R>(key: string, body: (full: string) => R | Promise<R>): R | Promise<R> {
      const generation = this.#current();
      if (typeof generation === "number") {
        const full = this.#full(generation, key);
        const result = body(full);
        if (result instanceof Promise) return result.catch((e) => rename(e, full, key));
        return result;
      }
      return generation.then((g) => {
        const full = this.#full(g, key);
        return Promise.resolve(body(full)).catch((e) => rename(e, full, key));
      });
    }

    #withAll<R>(keys: readonly string[], body: (full: string[]) => Promise<R>): Promise<R> {
      const generation = this.#current();
      if (typeof generation === "number") return body(keys.map((k) => this.#full(generation, k)));
      return generation.then((g) => body(keys.map((k) => this.#full(g, k))));
    }

    protected _get(key: string) {
      return this.#with(key, (full) => this.parent.get(full));
    }

    protected override _getEntry(key: string) {
      return this.#with(key, (full) => {
        if (!(this.parent instanceof BaseCache)) return this.parent.get(full);
        // A tagged entry is the parent's to open (its tags are the parent's): `_entryOf` does,
        // and leaves a getOrSet envelope in it unopened, so it can be served stale.
        return _entryOf(this.parent, full);
      });
    }

    /** Tags are the parent's, under this view's prefix: the parent wraps and opens entries. */
    protected override _setTagged(
      op: "set" | "add",
      key: string,
      value: unknown,
      ttl: number,
      tags: readonly string[],
    ): Promise<boolean> {
      const options = { ttl, tags: tags.map((tag) => this.#head + tag) };
      return Promise.resolve(this.#with(key, (full) => this.parent[op](full, value, options)));
    }

    protected override _invalidateTags(tags: readonly string[]): Promise<void> {
      return this.parent.invalidateTags(tags.map((tag) => this.#head + tag));
    }

    protected _set(key: string, value: unknown, ttl: number) {
      return this.#with(key, (full) => this.parent.set(full, value, ttl));
    }

    protected _add(key: string, value: unknown, ttl: number) {
      return this.#with(key, (full) => this.parent.add(full, value, ttl));
    }

    protected _delete(key: string) {
      return this.#with(key, (full) => this.parent.delete(full));
    }

    /** The parent's `add` already stored over an entry no read returns. */
    protected override _addOverDead(): boolean {
      return false;
    }

    /** The parent's `inc`/`dec` and `touch` already treat dead and getOrSet entries. */
    protected override get _layered(): boolean {
      return true;
    }

    protected _has(key: string) {
      return this.#with(key, (full) => this.parent.has(full));
    }

    protected _addToCounter(key: string, delta: number, _ttl: number, op: CounterOp) {
      return this.#with(
        key,
        (full) => op === "dec" ? this.parent.dec(full, -delta) : this.parent.inc(full, delta),
      );
    }

    /** One `inc` of the generation: every entry written before becomes unreachable. */
    protected async _clear(): Promise<boolean> {
      await this.#current(); // creates the generation (no ttl) when it does not exist yet
      const state = this.#generation;
      state.epoch++;
      const readAt = this.#clock();
      const next = await this.parent.inc(this.#genKey);
      state.value = next;
      state.readAt = readAt;
      return true;
    }

    protected override _getMany(keys: readonly string[]) {
      return this.#withAll(keys, (full) => this.parent.getMany(full));
    }

    protected override _setMany(entries: [string, unknown][], ttl: number) {
      return this.#withAll(entries.map(([key]) => key), async (full) => {
        const back = new Map(full.map((f, i) => [f, entries[i]![0]]));
        const stored = await this.parent.setMany(
          full.map((f, i) => [f, entries[i]![1]] as const),
          ttl,
        );
        return stored.map((f) => back.get(f)!);
      });
    }

    protected override _deleteMany(keys: readonly string[]) {
      return this.#withAll(keys, async (full) => {
        const back = new Map(full.map((f, i) => [f, keys[i]!]));
        return (await this.parent.deleteMany(full)).map((f) => back.get(f)!);
      });
    }

    protected override _ttl(key: string) {
      return this.#with(key, (full) => this.parent.ttl(full));
    }

    protected override _touch(key: string, ttl: number) {
      return this.#with(key, (full) => this.parent.touch(full, ttl));
    }

    protected override async _keys(prefix: string): Promise<AsyncIterable<string>> {
      const head = this.#full(await this.#current(), "");
      const parent = this.parent;
      return (async function* () {
        for await (const full of parent.keys(head + prefix)) yield full.slice(head.length);
      })();
    }

    protected override _storeId(): string | undefined {
      const id = this.parent instanceof BaseCache ? _storeIdOf(this.parent) : undefined;
      return id === undefined ? undefined : `${id} namespace ${JSON.stringify(this.namespaceName)}`;
    }

    override namespace(name: string, options?: NamespaceOptions): NamespaceView {
      return super.namespace(name, options) as NamespaceView;
    }
  };
}
