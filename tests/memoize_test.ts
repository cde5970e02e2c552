import assert from "node:assert/strict";
import {
  addDelta,
  ByteCache,
  CacheError,
  jsonSerializer,
  memoize,
  memoized,
  type MemoizedMethod,
  MemoryCache,
  NullCache,
} from "../mod.ts";
import { _argsKeyer, _unchanged } from "../_memo_keys.ts";

/** A promise with its resolve/reject handles, to hold a call in flight. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

Deno.test("memoize: 1 000 calls with 10 distinct arguments run fn 10 times", async () => {
  let runs = 0;
  async function square(n: number): Promise<number> {
    runs++;
    return await Promise.resolve(n * n);
  }
  const fast = memoize(square);
  await using _ = fast.cache;
  for (let i = 0; i < 1000; i++) assert.equal(await fast(i % 10), (i % 10) ** 2);
  assert.equal(runs, 10);
  assert.deepEqual(fast.cache.stats(), {
    hits: 990,
    misses: 10,
    sets: 10,
    deletes: 0,
    evictions: 0,
  });
});

Deno.test("memoize: 100 concurrent calls with one argument run fn once and share its result", async () => {
  let runs = 0;
  const gate = deferred<void>();
  const load = memoize(async function load(id: number) {
    runs++;
    await gate.promise;
    return { id };
  });
  await using _ = load.cache;
  const calls = Array.from({ length: 100 }, () => load(7));
  await Promise.resolve();
  gate.resolve();
  const results = await Promise.all(calls);
  assert.equal(runs, 1);
  for (const result of results) assert.deepEqual(result, { id: 7 });
  assert.deepEqual(await load(7), { id: 7 });
  assert.equal(runs, 1);
});

Deno.test("memoize: single-flight is per cache instance, shared by functions over one cache", async () => {
  let runs = 0;
  const gate = deferred<void>();
  async function fetchUser(id: number): Promise<string> {
    runs++;
    await gate.promise;
    return `user ${id}`;
  }
  await using shared = new MemoryCache();
  await using other = new MemoryCache();
  const a = memoize(fetchUser, { cache: shared });
  const b = memoize(fetchUser, { cache: shared });
  const c = memoize(fetchUser, { cache: other });
  const calls = [a(1), b(1), c(1)];
  gate.resolve();
  assert.deepEqual(await Promise.all(calls), ["user 1", "user 1", "user 1"]);
  assert.equal(runs, 2, "one run for the shared cache, one for the other cache");
});

Deno.test("memoize: a rejection is not cached, releases every waiter, and the next call retries", async () => {
  let runs = 0;
  const gate = deferred<void>();
  const flaky = memoize(async function flaky(id: number) {
    runs++;
    await gate.promise;
    if (runs === 1) throw new Error(`backend down for ${id}`);
    return id * 2;
  });
  await using _ = flaky.cache;
  const waiters = Array.from({ length: 10 }, () => flaky(5));
  gate.resolve();
  const settled = await Promise.allSettled(waiters);
  assert.equal(runs, 1);
  for (const result of settled) {
    assert.equal(result.status, "rejected");
    assert.match((result as PromiseRejectedResult).reason.message, /backend down for 5/);
  }
  assert.equal(await flaky.cache.has(flaky.keyFor(5)), false);
  assert.equal(await flaky(5), 10);
  assert.equal(await flaky(5), 10);
  assert.equal(runs, 2);
});

Deno.test("memoize: a synchronous throw rejects and does not block the next call", async () => {
  let runs = 0;
  const parse = memoize(function parse(text: string): number {
    runs++;
    if (runs === 1) throw new SyntaxError(`bad number ${text}`);
    return Number(text);
  });
  await using _ = parse.cache;
  await assert.rejects(parse("12"), { name: "SyntaxError", message: "bad number 12" });
  assert.equal(await parse("12"), 12);
  assert.equal(await parse("12"), 12);
  assert.equal(runs, 2);
});

Deno.test("memoize: entries expire after ttl on the cache's clock", async () => {
  let now = 1_000_000;
  let runs = 0;
  await using cache = new MemoryCache({ now: () => now, defaultTtl: 50 });
  const stamp = memoize(function stamp(name: string) {
    return `${name}#${++runs}`;
  }, { cache, ttl: 1000 });
  const fallback = memoize(function other(name: string) {
    return `${name}!${++runs}`;
  }, { cache });
  assert.equal(await stamp("a"), "a#1");
  assert.equal(await fallback("a"), "a!2");
  now += 49;
  assert.equal(await stamp("a"), "a#1");
  assert.equal(await fallback("a"), "a!2");
  now += 1;
  assert.equal(await fallback("a"), "a!3", "no ttl: the cache's defaultTtl (50 ms) applies");
  now += 949;
  assert.equal(await stamp("a"), "a#1");
  now += 1;
  assert.equal(await stamp("a"), "a#4");
});

Deno.test("memoize: undefined, null and falsy results are cached, not taken for misses", async (t) => {
  for (const result of [undefined, null, 0, "", false, NaN]) {
    await t.step(`result ${String(result) || '""'}`, async () => {
      let runs = 0;
      const f = memoize(function f(_n: number) {
        runs++;
        return result;
      });
      await using _ = f.cache;
      assert.equal(await f(1), result);
      assert.equal(await f(1), result);
      assert.equal(runs, 1);
    });
  }
});

Deno.test("memoize: results shaped like its undefined encoding read back unchanged", async () => {
  const values = [{ $memoize: 0 }, { $memoize: 1, value: 2 }, { $memoize: 1 }, [{ $memoize: 0 }]];
  let runs = 0;
  const f = memoize(function f(i: number) {
    runs++;
    return values[i];
  });
  await using _ = f.cache;
  for (let i = 0; i < values.length; i++) {
    assert.deepEqual(await f(i), values[i]);
    assert.deepEqual(await f(i), values[i], "second read comes from the cache");
  }
  assert.equal(runs, values.length);
});

Deno.test("memoize: keys ignore object field order and key Date, Map, Set, BigInt by content", () => {
  const f = memoize(function f(..._args: unknown[]) {}, { typed: true });
  using _ = { [Symbol.dispose]: () => void f.cache.close() };
  assert.equal(f.keyFor({ a: 1, b: { c: 2, d: 3 } }), f.keyFor({ b: { d: 3, c: 2 }, a: 1 }));
  assert.equal(f.keyFor(new Map([["a", 1], ["b", 2]])), f.keyFor(new Map([["b", 2], ["a", 1]])));
  assert.equal(f.keyFor(new Set([1, 2])), f.keyFor(new Set([2, 1])));
  const distinct = [
    [new Date(0)],
    [new Date(1)],
    [{}],
    [new Map()],
    [new Set()],
    [[]],
    [new Map([["a", 1]])],
    [{ a: 1 }],
    [new Set(["a"])],
    [["a"]],
    [1n],
    [1],
    ["1"],
    [true],
    ["true"],
    [null],
    [undefined],
    [],
    [1, 2],
    ["1,2"],
    [[1, 2]],
    [-0],
    [{ a: undefined }],
    [new Uint8Array([1])],
    [new Int8Array([1])],
    [/a/g],
    [new URL("https://example.com/")],
    ['a"b'],
    ['a\\"b'],
    ["a\\b"],
    ["a\nb"],
    ["\ud800"],
    ["\udc00"],
    ['"a"'],
    ["a"],
    [{ 'a"': 1 }],
    [{ "a\\": 1 }],
    ["x".repeat(65) + '"'],
    ["x".repeat(65)],
  ];
  const keys = new Set(distinct.map((args) => f.keyFor(...args)));
  assert.equal(keys.size, distinct.length);
  assert.equal(f.keyFor(1, "a", { x: [1n] }), 'f(1,"a",{"x":[1n]})');
  assert.equal(
    f.keyFor('say "hi"\n', { "k\\": 0 }),
    `f(${JSON.stringify('say "hi"\n')},{"k\\\\":0})`,
  );
});

Deno.test('memoize: typed keeps 1 and "1" apart; the default shares them', async () => {
  let runs = 0;
  const loose = memoize(function loose(id: unknown) {
    return `${typeof id} ${++runs}`;
  });
  const typed = memoize(function typed(id: unknown) {
    return `${typeof id} ${++runs}`;
  }, { typed: true });
  await using _l = loose.cache;
  await using _t = typed.cache;
  assert.equal(await loose(1), "number 1");
  assert.equal(await loose("1"), "number 1");
  assert.equal(loose.keyFor(1), 'loose("1")');
  assert.equal(await typed(1), "number 2");
  assert.equal(await typed("1"), "string 3");
  assert.equal(await typed(1), "number 2");
});

Deno.test("memoize: arguments that cannot be keyed are TypeErrors naming their position", async (t) => {
  const f = memoize(async function f(..._args: unknown[]) {
    return await Promise.resolve(1);
  });
  await using _ = f.cache;
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: [string, unknown[], RegExp][] = [
    ["a function", [1, () => 2], /argument 2 is function/],
    ["a symbol", [Symbol("s")], /argument 1 is Symbol\(s\)/],
    ["a nested function", [{ on: { click() {} } }], /argument 1\.on\.click is function click/],
    ["a class instance", [1, 2, new (class Point {})()], /argument 3 is an object \(Point\)/],
    ["a cycle", [cyclic], /argument 1\.self refers back to itself/],
    ["a Map value", [new Map([["k", Symbol.iterator]])], /argument 1 \(a Map value\)/],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      assert.throws(() => f.keyFor(...args), { name: "TypeError", message });
      await assert.rejects(f(...args), { name: "TypeError", message });
      await assert.rejects(f(...args), /pass a key function/);
    });
  }
});

Deno.test("memoize: a key function keys arguments the encoder cannot", async () => {
  let runs = 0;
  const render = memoize(function render(user: { id: number }, onDone: () => void) {
    onDone();
    return `user ${user.id} #${++runs}`;
  }, { key: (user) => String(user.id), prefix: "render" });
  await using _ = render.cache;
  assert.equal(render.keyFor({ id: 3 }, () => {}), "render(3)");
  assert.equal(await render({ id: 3 }, () => {}), "user 3 #1");
  assert.equal(await render({ id: 3 }, () => {}), "user 3 #1");
  const bad = memoize((n: number) => n, { key: () => 42 as unknown as string });
  await using _b = bad.cache;
  await assert.rejects(bad(1), {
    name: "TypeError",
    message: /key must return a string, returned 42/,
  });
});

Deno.test("memoize: uncached, invalidate and keyFor", async () => {
  let runs = 0;
  const f = memoize(function count(n: number) {
    return n + ++runs;
  }, { prefix: "c" });
  await using _ = f.cache;
  assert.equal(f.keyFor(1), 'c("1")');
  assert.equal(await f.uncached(1), 2);
  assert.equal(await f.cache.has(f.keyFor(1)), false, "uncached stores nothing");
  assert.equal(await f(1), 3);
  assert.equal(await f(1), 3);
  assert.equal(await f.invalidate(1), true);
  assert.equal(await f.invalidate(1), false);
  assert.equal(await f(1), 4);
});

Deno.test("memoize: passes this through to fn", async () => {
  const counter = {
    base: 10,
    add: memoize(function add(this: { base: number }, n: number) {
      return this.base + n;
    }),
  };
  await using _ = counter.add.cache;
  assert.equal(await counter.add(5), 15);
  assert.equal(await counter.add.uncached.call(counter, 6), 16);
});

Deno.test("memoize: a result the cache cannot store rejects with the cache's error naming the key", async () => {
  let runs = 0;
  const f = memoize(function handler(_n: number) {
    runs++;
    return () => "a function";
  });
  await using _ = f.cache;
  await assert.rejects(f(1), { name: "TypeError", message: /key "handler\(\\"1\\"\)".*function/ });
  await assert.rejects(f(1), TypeError);
  assert.equal(runs, 2);
});

Deno.test("memoize: over NullCache every call runs fn, concurrent calls still share one", async () => {
  let runs = 0;
  await using cache = new NullCache();
  const f = memoize(async function f(n: number) {
    runs++;
    return await Promise.resolve(n);
  }, { cache });
  assert.deepEqual(await Promise.all([f(1), f(1), f(1)]), [1, 1, 1]);
  assert.equal(runs, 1);
  await f(1);
  assert.equal(runs, 2);
});

Deno.test("memoize: a new memoize of the same function over the same cache reuses its entries", async () => {
  let runs = 0;
  async function report(query: { from: Date; tags: Set<string> }): Promise<number> {
    runs++;
    return await Promise.resolve(query.tags.size);
  }
  await using cache = new MemoryCache();
  const first = memoize(report, { cache, ttl: 0 });
  assert.equal(await first({ from: new Date(0), tags: new Set(["a", "b"]) }), 2);
  const second = memoize(report, { cache, ttl: 0 }); // what a restarted process builds
  assert.equal(await second({ tags: new Set(["b", "a"]), from: new Date(0) }), 2);
  assert.equal(runs, 1);
});

/**
 * Keeps only serialized bytes, in a store that outlives the instance: two
 * instances over one store stand in for two processes sharing a directory.
 */
class SharedBytesCache extends ByteCache {
  #store: Map<string, Uint8Array>;
  constructor(store: Map<string, Uint8Array>) {
    super({ serializer: jsonSerializer });
    this.#store = store;
  }
  protected _get(key: string) {
    const bytes = this.#store.get(key);
    return Promise.resolve(bytes && this._decode(key, bytes));
  }
  protected _set(key: string, value: unknown) {
    this.#store.set(key, this._encode("set", key, value) as Uint8Array); // jsonSerializer is synchronous
    return Promise.resolve(true);
  }
  protected _add(key: string, value: unknown) {
    return this.#store.has(key) ? Promise.resolve(false) : this._set(key, value);
  }
  protected _delete(key: string) {
    return Promise.resolve(this.#store.delete(key));
  }
  protected _has(key: string) {
    return Promise.resolve(this.#store.has(key));
  }
  protected _clear() {
    this.#store.clear();
    return Promise.resolve(true);
  }
  protected _addToCounter(key: string, delta: number) {
    const bytes = this.#store.get(key);
    const next = addDelta("inc", key, bytes ? this._decode(key, bytes) : 0, delta);
    return this._set(key, next).then(() => next);
  }
}

Deno.test("memoize: results stored as JSON bytes are served to a fresh cache and memoize", async () => {
  const disk = new Map<string, Uint8Array>();
  let runs = 0;
  async function settings(user: { id: number; tags: string[] }): Promise<unknown> {
    runs++;
    return await Promise.resolve(user.id === 0 ? undefined : { theme: "dark", $memoize: "mine" });
  }
  {
    await using cache = new SharedBytesCache(disk);
    const first = memoize(settings, { cache });
    assert.equal(await first({ id: 0, tags: [] }), undefined);
    assert.deepEqual(await first({ id: 1, tags: ["a"] }), { theme: "dark", $memoize: "mine" });
  }
  await using restarted = new SharedBytesCache(disk); // "the next process"
  const second = memoize(settings, { cache: restarted });
  assert.equal(await second({ tags: [], id: 0 }), undefined);
  assert.deepEqual(await second({ tags: ["a"], id: 1 }), { theme: "dark", $memoize: "mine" });
  assert.equal(runs, 2, "the second cache and memoize did not call fn");
  assert.deepEqual([...disk.keys()], [
    'settings({"id":"0","tags":[]})',
    'settings({"id":"1","tags":["a"]})',
  ]);
});

Deno.test("memoize: keys are the same in another process", async () => {
  const f = memoize(async function lookup(..._args: unknown[]) {
    return await Promise.resolve(0);
  });
  const typed = memoize(async function lookup(..._args: unknown[]) {
    return await Promise.resolve(0);
  }, { typed: true, prefix: "typed" });
  await using _f = f.cache;
  await using _t = typed.cache;
  const args: unknown[][] = [
    [{ a: "x", b: [1, { c: 3, d: 4 }] }],
    [new Map<unknown, unknown>([["x", new Date(86_400_000)], ["y", new Set([1, 2, 3])]])],
    [12345678901234567890n, null, undefined, true, "1"],
  ];
  const expected = args.flatMap((list) => [f.keyFor(...list), typed.keyFor(...list)]);
  const fixture = new URL("./fixtures/memoize_worker.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", fixture.pathname, "keys"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(output.stderr), "");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), expected);
});

Deno.test("memoize: bad options are TypeErrors, a bad ttl value a RangeError", async (t) => {
  await using cache = new MemoryCache();
  const cases: [string, () => unknown, RegExp][] = [
    ["fn not a function", () => memoize(42 as never), /fn must be a function, received 42/],
    [
      "string ttl",
      () => memoize(() => 1, { ttl: "1s" as never }),
      /ttl must be a number of milliseconds, received "1s"/,
    ],
    ["cache not a Cache", () => memoize(() => 1, { cache: {} as never }), /cache must be a Cache/],
    [
      "key not a function",
      () => memoize(() => 1, { key: "id" as never }),
      /key must be a function/,
    ],
    [
      "prefix not a string",
      () => memoize(() => 1, { prefix: 1 as never }),
      /prefix must be a string/,
    ],
    [
      "anonymous function over a shared cache without a prefix",
      () => memoize(async (n: number) => await Promise.resolve(n), { cache }),
      /anonymous function over a shared cache needs a prefix/,
    ],
  ];
  for (const [name, run, message] of cases) {
    await t.step(name, () => assert.throws(run, { name: "TypeError", message }));
  }
  for (const ttl of [-1, NaN, Infinity]) {
    await t.step(`ttl ${ttl} is a RangeError`, () => {
      assert.throws(() => memoize(() => 1, { ttl }), {
        name: "RangeError",
        message: new RegExp(`ttl must be a finite number >= 0, received ${ttl}$`),
      });
    });
  }
});

Deno.test("memoize: a second, different function under a prefix used on the same cache is a TypeError naming it", async () => {
  await using cache = new MemoryCache();
  const users = (() => {
    async function load(id: number): Promise<string> {
      return await Promise.resolve(`user ${id}`);
    }
    return load;
  })();
  const orders = (() => {
    async function load(id: number): Promise<string> {
      return await Promise.resolve(`order ${id}`);
    }
    return load;
  })();
  const loadUser = memoize(users, { cache });
  assert.equal(await loadUser(1), "user 1");
  assert.throws(() => memoize(orders, { cache }), {
    name: "TypeError",
    message:
      /Cannot memoize function load: prefix "load" is already used on this cache by another function \(function load\)/,
  });
  assert.throws(() => memoize(() => 2, { cache, prefix: "load" }), {
    name: "TypeError",
    message: /prefix "load" is already used/,
  });
  assert.equal(await memoize(users, { cache })(1), "user 1", "the same function again is fine");
  const loadOrder = memoize(orders, { cache, prefix: "orders.load" });
  assert.equal(await loadOrder(1), "order 1");
  assert.equal(await loadUser(1), "user 1");
  await using other = new MemoryCache();
  assert.equal(await memoize(orders, { cache: other })(1), "order 1", "another cache is free");
});

Deno.test("@memoized: methods of one name in two classes over one cache keep their own results", async () => {
  await using cache = new MemoryCache();
  class Users {
    @memoized({ cache })
    async get(id: number): Promise<string> {
      return await Promise.resolve(`user ${id}`);
    }
    @memoized({ cache })
    static async get(id: number): Promise<string> {
      return await Promise.resolve(`static user ${id}`);
    }
  }
  class Orders {
    @memoized({ cache })
    async get(id: number): Promise<string> {
      return await Promise.resolve(`order ${id}`);
    }
  }
  class PriorityOrders extends Orders {}
  assert.equal(await new Users().get(1), "user 1");
  assert.equal(await new Orders().get(1), "order 1");
  assert.equal(await new PriorityOrders().get(1), "order 1", "a subclass uses the declaring class");
  assert.equal(await Users.get(1), "static user 1");
  const get = Orders.prototype.get as unknown as MemoizedMethod<Orders, [number], string>;
  assert.equal(get.keyFor(new PriorityOrders(), 1), 'Orders#get("1")');
  assert.equal(await cache.get('Users#get("1")'), "user 1");
  assert.equal(await cache.get('Users.get("1")'), "static user 1");
  class Lone {
    @memoized({ cache })
    async get(id: number): Promise<number> {
      return await Promise.resolve(id);
    }
  }
  const detached = Lone.prototype.get;
  await assert.rejects(detached.call({} as Lone, 1), {
    name: "TypeError",
    message: /Cannot memoize method get: cannot find the class that declares it on an object/,
  });
  assert.equal(await new Lone().get(2), 2, "found once called on an instance");
  assert.equal(await detached.call({} as Lone, 3), 3, "then the prefix is known");
  // Two classes with the same name (made by one factory) are different functions: refused.
  const make = () =>
    class Repo {
      @memoized({ cache })
      async get(id: number): Promise<number> {
        return await Promise.resolve(id);
      }
    };
  const First = make();
  const Second = make();
  assert.equal(await new First().get(1), 1);
  await assert.rejects(new Second().get(1), {
    name: "TypeError",
    message: /prefix "Repo#get" is already used on this cache/,
  });
});

Deno.test("memoize and @memoized reject unknown option names, listing the accepted ones", () => {
  assert.throws(() => memoize(Math.abs, { tll: 5 } as never), {
    name: "TypeError",
    message:
      'Cannot create memoized function abs: unknown option "tll" (accepted: cache, freeze, grace, key, lock, onRefreshError, prefix, refreshAhead, staleWhileRevalidate, tags, timeout, ttl, typed)',
  });
  assert.throws(
    () => {
      class Bad {
        @memoized({ bindthis: true } as never)
        async m(): Promise<number> {
          return await Promise.resolve(1);
        }
      }
      return Bad;
    },
    {
      name: "TypeError",
      message:
        /unknown option "bindthis" \(accepted: bindThis, cache, freeze, grace, key, lock, onRefreshError, prefix, refreshAhead, staleWhileRevalidate, tags, timeout, ttl, typed\)/,
    },
  );
});

Deno.test("memoize: a closed cache rejects calls with CacheError", async () => {
  const cache = new MemoryCache();
  const f = memoize(function f(n: number) {
    return n;
  }, { cache });
  await cache.close();
  await assert.rejects(f(1), { name: "CacheError", message: /the cache is closed/ });
  await assert.rejects(f(1), CacheError);
});

Deno.test("@memoized shares results across instances by default, calling the method with this", async () => {
  let runs = 0;
  class Rates {
    constructor(readonly bank: string) {}
    @memoized({ ttl: 60_000 })
    async rate(currency: string): Promise<string> {
      runs++;
      return await Promise.resolve(`${this.bank}:${currency}`);
    }
  }
  const first = new Rates("ecb");
  const second = new Rates("fed");
  assert.equal(await first.rate("USD"), "ecb:USD");
  assert.equal(await second.rate("USD"), "ecb:USD", "the instance is not in the key");
  assert.equal(await second.rate("EUR"), "fed:EUR");
  assert.equal(runs, 2);
  await (first.rate as unknown as MemoizedMethod<Rates, [string], string>).cache.close();
});

Deno.test("@memoized({ bindThis: true }) keeps instances apart", async () => {
  let runs = 0;
  const gate = Promise.withResolvers<void>();
  class Repo {
    constructor(readonly name: string) {}
    @memoized({ bindThis: true })
    async load(id: number): Promise<string> {
      runs++;
      await gate.promise;
      return `${this.name}/${id}`;
    }
  }
  const a = new Repo("a");
  const b = new Repo("b");
  const calls = [a.load(1), a.load(1), b.load(1)];
  gate.resolve();
  assert.deepEqual(await Promise.all(calls), ["a/1", "a/1", "b/1"]);
  assert.equal(await a.load(1), "a/1");
  assert.equal(runs, 2);
  const load = a.load as unknown as MemoizedMethod<Repo, [number], string>;
  assert.match(load.keyFor(a, 1), /^Repo#load@"#[0-9a-f]{8}\.1"\("1"\)$/);
  assert.notEqual(load.keyFor(a, 1), load.keyFor(b, 1));
  await load.cache.close();
});

Deno.test("@memoized({ bindThis: fn }) keys instances by a stable id; helpers take the instance first", async () => {
  let runs = 0;
  await using cache = new MemoryCache();
  class Account {
    constructor(readonly id: string, readonly balance: number) {}
    @memoized({ cache, prefix: "Account.total", bindThis: (self: Account) => self.id })
    async total(fee: number): Promise<number> {
      runs++;
      return await Promise.resolve(this.balance - fee);
    }
  }
  const one = new Account("acc-1", 100);
  const sameId = new Account("acc-1", 999);
  const other = new Account("acc-2", 50);
  assert.equal(await one.total(1), 99);
  assert.equal(await sameId.total(1), 99, "same id, same entry");
  assert.equal(await other.total(1), 49);
  assert.equal(runs, 2);
  const total = Account.prototype.total as unknown as MemoizedMethod<Account, [number], number>;
  assert.equal(total.cache, cache);
  assert.equal(total.keyFor(one, 1), 'Account.total@"acc-1"("1")');
  assert.equal(await total.uncached(sameId, 1), 998);
  assert.equal(runs, 3);
  assert.equal(await total.invalidate(one, 1), true);
  assert.equal(await sameId.total(1), 998);
  assert.equal(runs, 4);
});

// Deno 2.9.6 cannot run a decorated #private method at all (its transpiler
// emits "SyntaxError: Getter must not have any formal parameters"), so only
// static and public methods are tested here.
Deno.test("@memoized works on static methods, prefixed by the class and method name", async () => {
  let runs = 0;
  class Config {
    @memoized()
    static async read(name: string): Promise<string> {
      runs++;
      return await Promise.resolve(name.toUpperCase());
    }
  }
  assert.equal(await Config.read("a"), "A");
  assert.equal(await Config.read("a"), "A");
  assert.equal(await Config.read("b"), "B");
  assert.equal(runs, 2);
  const read = Config.read as unknown as MemoizedMethod<typeof Config, [string], string>;
  assert.equal(read.keyFor(Config, "a"), 'Config.read("a")');
  await read.cache.close();
});

Deno.test("@memoized rejects a bad bindThis", async () => {
  assert.throws(
    () => {
      class Bad {
        @memoized({ bindThis: "yes" as never })
        async m(): Promise<number> {
          return await Promise.resolve(1);
        }
      }
      return Bad;
    },
    {
      name: "TypeError",
      message: /Cannot memoize method m: bindThis must be a boolean or a function, received "yes"/,
    },
  );
  class NoId {
    @memoized({ bindThis: () => 7 as unknown as string })
    async m(): Promise<number> {
      return await Promise.resolve(1);
    }
  }
  await assert.rejects(new NoId().m(), {
    name: "TypeError",
    message: /bindThis must return a string, returned 7/,
  });
  await (NoId.prototype.m as unknown as MemoizedMethod<NoId, [], number>).cache.close();
});

Deno.test("@memoized only type-checks on methods that return a promise", async () => {
  class Sync {
    // @ts-expect-error: a memoized method is async, so a sync method is rejected at compile time
    @memoized()
    twice(n: number): number {
      return n * 2;
    }
  }
  assert.equal(await new Sync().twice(2), 4, "at run time the result is a promise");
  await (Sync.prototype.twice as unknown as MemoizedMethod<Sync, [number], number>).cache.close();
});

Deno.test("memoize over a persistent cache: a second process does not call fn", async (t) => {
  const dir = await Deno.makeTempDir();
  const fixture = new URL("./fixtures/memoize_worker.ts", import.meta.url);
  const run = async (url: string) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--unstable-kv",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        fixture.pathname,
        "persist",
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(output.stderr), "");
    return JSON.parse(new TextDecoder().decode(output.stdout));
  };
  // Every persistent backend without a server: Deno KV and the filesystem.
  const urls = [`denokv://${dir}/kv.db`, `file://${dir}/fs`];
  try {
    for (const url of urls) {
      await t.step(url.slice(0, url.indexOf(":")), async () => {
        const result = { tags: ["a", "b"], at: "1970-01-01T00:00:00.000Z" };
        assert.deepEqual(await run(url), { result, ran: true });
        assert.deepEqual(await run(url), { result, ran: false });
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memoize: an object argument mutated between calls gets the new result", async (t) => {
  const runs: string[] = [];
  const search = memoize(function search(q: Record<string, unknown>, page?: unknown) {
    runs.push(JSON.stringify([q, page ?? null]));
    return { q: structuredClone(q), page };
  });
  const q: Record<string, unknown> = { kind: "user", id: 12, fields: ["name"], at: new Date(0) };
  const mutations: [string, () => void][] = [
    ["a field changes", () => q.id = 13],
    ["a field is added", () => q.extra = true],
    ["a field is deleted", () => delete q.id],
    ["a nested array grows", () => (q.fields as string[]).push("email")],
    ["a nested array element changes", () => (q.fields as string[])[0] = "nick"],
    ["a Date moves", () => (q.at as Date).setTime(1)],
    ["a field becomes a nested object", () => q.kind = { type: "user" }],
    ["a nested object's field changes", () => (q.kind as { type: string }).type = "admin"],
    ["a number becomes -0", () => q.id = -0],
    [
      "a field becomes a getter",
      () => Object.defineProperty(q, "id", { get: () => 7, enumerable: true }),
    ],
  ];
  const first = await search(q, 1);
  assert.equal(runs.length, 1);
  assert.deepEqual(await search(q, 1), first, "unchanged: the cached result");
  assert.equal(runs.length, 1);
  for (const [name, mutate] of mutations) {
    await t.step(name, async () => {
      const before = runs.length;
      mutate();
      const result = await search(q, 1) as { q: unknown };
      assert.equal(runs.length, before + 1, "fn runs for the mutated argument");
      assert.deepEqual(result.q, structuredClone({ ...q }));
      await search(q, 1);
      assert.equal(runs.length, before + 1, "and the mutated argument is then a hit");
    });
  }
  await t.step("the other argument changes", async () => {
    const before = runs.length;
    await search(q, 2);
    assert.equal(runs.length, before + 1);
    await search(q, 1);
    await search(q, 1);
    assert.equal(runs.length, before + 1, "page 1 is still cached under its own key");
  });
});

/** A seeded random argument list, with the containers it holds (to mutate later). */
function randomArgs(random: () => number): { args: unknown[]; boxes: object[] } {
  const boxes: object[] = [];
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const names = ["a", "b", "id", "1", "0", "z y", 'q"', "é", "toString", "constructor"];
  const scalar = (): unknown =>
    pick([
      () => Math.floor(random() * 5),
      () => pick([-0, 0, NaN, Infinity, -Infinity, 1.5, 2 ** 53]),
      () => pick(["", "a", "1", "x\ny", "é", '"', "\uD800", "null"]),
      () => pick([true, false, null, undefined]),
      () => BigInt(Math.floor(random() * 3)),
    ])();
  const value = (depth: number): unknown => {
    if (depth > 2 || random() < 0.4) return scalar();
    const kind = pick([
      "object",
      "object",
      "array",
      "array",
      "null",
      "date",
      "map",
      "set",
      "sparse",
    ]);
    let box: object;
    if (kind === "object" || kind === "null") {
      const o: Record<string, unknown> = kind === "null" ? Object.create(null) : {};
      const n = Math.floor(random() * 4);
      for (let i = 0; i < n; i++) o[pick(names)] = value(depth + 1);
      if (random() < 0.1) Object.defineProperty(o, Symbol("s"), { value: 1, enumerable: true });
      if (random() < 0.1) Object.defineProperty(o, "hidden", { value: 2, enumerable: false });
      if (random() < 0.1) {
        Object.defineProperty(o, "got", { get: () => 3, enumerable: true, configurable: true });
      }
      box = o;
    } else if (kind === "array" || kind === "sparse") {
      const a: unknown[] = kind === "sparse" ? new Array(1 + Math.floor(random() * 3)) : [];
      const n = kind === "sparse" ? 1 : Math.floor(random() * 4);
      for (let i = 0; i < n; i++) a[kind === "sparse" ? a.length - 1 : i] = value(depth + 1);
      box = a;
    } else if (kind === "date") box = new Date(pick([0, 1, NaN, 8.64e15]));
    else if (kind === "map") box = new Map([[scalar(), value(depth + 1)]]);
    else box = new Set([scalar(), scalar()]);
    boxes.push(box);
    return box;
  };
  const args = Array.from({ length: 1 + Math.floor(random() * 3) }, () => value(0));
  return { args, boxes };
}

/** Changes one container in place, or nothing; sometimes to the same content. */
function mutate(random: () => number, boxes: object[], args: unknown[]): void {
  const r = random();
  if (boxes.length === 0 || r < 0.15) return;
  const box = boxes[Math.floor(random() * boxes.length)]!;
  const values = [0, -0, NaN, "a", 1n, undefined, null, [], {}, new Date(0)];
  const v = values[Math.floor(random() * values.length)];
  if (r < 0.2) {
    args[Math.floor(random() * args.length)] = v;
  } else if (box instanceof Date) box.setTime(box.getTime() + (r < 0.5 ? 0 : 1));
  else if (box instanceof Map) box.set("k", v);
  else if (box instanceof Set) box.add(v);
  else if (Array.isArray(box)) {
    if (r < 0.4) box.push(v);
    else if (r < 0.6) box.pop();
    else if (box.length > 0) box[0] = v;
    else box.length = 2; // sparse
  } else {
    const o = box as Record<string, unknown>;
    const names = Object.keys(o);
    if (r < 0.4 || names.length === 0) o[["a", "b", "new"][Math.floor(random() * 3)]!] = v;
    else if (r < 0.6) delete o[names[0]!];
    else if (r < 0.7) {
      // The same content, another field order: the same key.
      const [first] = names;
      const kept = o[first!];
      delete o[first!];
      o[first!] = kept;
    } else if (r < 0.75) Object.setPrototypeOf(o, r < 0.725 ? null : Object.prototype);
    else if (r < 0.8) {
      // Renamed, with the same value.
      const kept = o[names[0]!];
      delete o[names[0]!];
      o[`${names[0]}'`] = kept;
    } else o[names[0]!] = v;
  }
}

Deno.test("memoize: a reused key always equals the full derivation (seeded fuzz, typed and untyped)", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const outcome = (derive: () => string): string => {
    try {
      return derive();
    } catch (error) {
      return `throws ${(error as Error).message}`;
    }
  };
  let kept = 0;
  let changed = 0;
  for (const typed of [false, true]) {
    const f = memoize(function f(..._args: unknown[]) {}, { typed });
    const full = _argsKeyer(typed);
    for (let i = 0; i < 3_000; i++) {
      const { args, boxes } = randomArgs(random);
      // The same argument objects across calls, mutated (or not) in between.
      for (let round = 0; round < 4; round++) {
        const want = outcome(() => `f(${full(args)})`);
        assert.equal(outcome(() => f.keyFor(...args)), want, `typed ${typed}, case ${i}.${round}`);
        // The property the reuse rests on: a snapshot that still matches means the same key.
        const out: { snapshot?: unknown[] } = {};
        const key = outcome(() => full(args, out));
        assert.equal(`f(${key})`, want);
        mutate(random, boxes, args);
        if (out.snapshot === undefined) continue;
        if (_unchanged(args, out.snapshot)) {
          kept++;
          assert.equal(outcome(() => full(args)), key, `typed ${typed}, case ${i}.${round}`);
        } else changed++;
      }
    }
  }
  // Both sides of the check were exercised many times.
  assert.ok(kept > 2_000 && changed > 2_000, `kept ${kept}, changed ${changed}`);
});

Deno.test("memoize: arguments a snapshot does not cover are derived in full every time", async (t) => {
  const f = memoize(function f(..._args: unknown[]) {});
  await t.step("a polluted Object.prototype", () => {
    const q = { a: 1 };
    assert.equal(f.keyFor(q), 'f({"a":"1"})');
    const proto = Object.prototype as Record<string, unknown>;
    // The same name and value, now inherited: for…in still gives "a" with 1.
    Object.defineProperty(proto, "a", { value: 1, enumerable: true, configurable: true });
    try {
      delete (q as Record<string, unknown>).a;
      assert.equal(f.keyFor(q), "f({})");
    } finally {
      delete proto.a;
    }
    assert.equal(f.keyFor(q), "f({})");
  });
  await t.step("a field renamed, its value undefined", () => {
    const q: Record<string, unknown> = { a: undefined };
    assert.equal(f.keyFor(q), 'f({"a":undefined})');
    delete q.a;
    q.b = undefined;
    assert.equal(f.keyFor(q), 'f({"b":undefined})');
  });
  await t.step("a field made non-enumerable, another added", () => {
    const q: Record<string, unknown> = { a: 1 };
    assert.equal(f.keyFor(q), 'f({"a":"1"})');
    Object.defineProperty(q, "a", { enumerable: false });
    q.b = 1;
    assert.equal(f.keyFor(q), 'f({"b":"1"})');
  });
  await t.step("a proxy that changes its answers", () => {
    let n = 1;
    const q = new Proxy({ a: 1 }, { get: (_target, name) => name === "a" ? n : undefined });
    assert.equal(f.keyFor(q), 'f({"a":"1"})');
    n = 2;
    assert.equal(f.keyFor(q), 'f({"a":"2"})');
  });
  await t.step("a getter with a fresh value each read", () => {
    let n = 0;
    const q = {
      get n() {
        return ++n;
      },
    };
    const f = memoize(function f(..._args: unknown[]) {});
    assert.equal(f.keyFor(q), 'f({"n":"1"})');
    // The check reads n (2, not the recorded 1), then the derivation reads it (3).
    assert.equal(f.keyFor(q), 'f({"n":"3"})');
  });
  await t.step("a Date with its own toISOString", () => {
    const d = new Date(0);
    assert.equal(f.keyFor(d), "f(Date(1970-01-01T00:00:00.000Z))");
    Object.defineProperty(d, "toISOString", { value: () => "then" });
    assert.equal(f.keyFor(d), "f(Date(then))");
  });
  await t.step("a Map mutated in place", () => {
    const m = new Map([["a", 1]]);
    assert.equal(f.keyFor(m), 'f(Map("a"=>"1"))');
    m.set("a", 2);
    assert.equal(f.keyFor(m), 'f(Map("a"=>"2"))');
  });
  await t.step("typed: a field that goes from 0 to -0, NaN to NaN", () => {
    const typed = memoize(function typed(..._args: unknown[]) {}, { typed: true });
    const q = { n: 0 };
    assert.equal(typed.keyFor(q), 'typed({"n":0})');
    q.n = -0;
    assert.equal(typed.keyFor(q), 'typed({"n":-0})');
    q.n = NaN;
    assert.equal(typed.keyFor(q), 'typed({"n":NaN})');
    q.n = Number("x");
    assert.equal(typed.keyFor(q), 'typed({"n":NaN})');
  });
  await t.step("a large array and deep nesting", () => {
    const big = Array.from({ length: 1_000 }, (_, i) => i);
    assert.equal(f.keyFor(big), f.keyFor([...big]));
    big[999] = -1;
    assert.ok(f.keyFor(big).endsWith(',"-1"])'));
    const deep: Record<string, unknown> = {};
    let inner = deep;
    for (let i = 0; i < 20; i++) inner = (inner.x = {}) as Record<string, unknown>;
    const before = f.keyFor(deep);
    inner.y = 1;
    assert.notEqual(f.keyFor(deep), before);
    assert.ok(f.keyFor(deep).includes('{"y":"1"}'));
  });
  await t.step("a cycle is refused every time", () => {
    const q: Record<string, unknown> = { a: 1 };
    assert.equal(f.keyFor(q), 'f({"a":"1"})');
    q.self = q;
    for (let i = 0; i < 2; i++) {
      assert.throws(() => f.keyFor(q), {
        name: "TypeError",
        message: /argument 1\.self refers back/,
      });
    }
  });
});

Deno.test("memoize({ freeze: true }) hands every caller one deep-frozen result; the default copies", async (t) => {
  const made = { hits: [1, 2], meta: { page: 1 }, $memoize: "own" };
  const produce = (n: number) => n === 0 ? made : n === 1 ? { at: new Date(0) } : undefined;
  await t.step("over a MemoryCache: the same frozen object, writes throw", async () => {
    const f = memoize(produce, { freeze: true });
    const [a, b] = [await f(0), await f(0)] as (typeof made)[];
    assert.equal(a, b, "one object for every caller");
    assert.deepEqual(a, { hits: [1, 2], meta: { page: 1 }, $memoize: "own" });
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.hits) && Object.isFrozen(a.meta));
    assert.throws(() => a.hits.push(3), TypeError);
    assert.throws(() => (a.meta.page = 2), TypeError);
    assert.deepEqual(await f(0), { hits: [1, 2], meta: { page: 1 }, $memoize: "own" });
    // fn's own object is neither frozen nor shared: the result is a copy.
    assert.notEqual(a, made);
    assert.ok(!Object.isFrozen(made) && !Object.isFrozen(made.hits));
    made.hits.push(9);
    assert.deepEqual((await f(0) as typeof made).hits, [1, 2]);
    made.hits.pop();
    assert.equal(await f(2), undefined, "undefined results still cached");
  });
  await t.step("a result holding a Date is copied per call as without freeze", async () => {
    const f = memoize(produce, { freeze: true });
    const [a, b] = [await f(1), await f(1)] as { at: Date }[];
    assert.notEqual(a, b);
    assert.ok(!Object.isFrozen(a));
    assert.deepEqual(a, { at: new Date(0) });
  });
  await t.step("over a byte cache: frozen too", async () => {
    await using cache = new SharedBytesCache(new Map());
    const f = memoize(produce, { freeze: true, cache });
    await f(0);
    const a = await f(0) as typeof made;
    assert.deepEqual(a, { hits: [1, 2], meta: { page: 1 }, $memoize: "own" });
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a.hits));
  });
  await t.step("the default: each caller its own mutable copy", async () => {
    const f = memoize(produce);
    const a = await f(0) as typeof made;
    a.hits.push(3);
    const b = await f(0) as typeof made;
    assert.notEqual(a, b);
    assert.deepEqual(b.hits, [1, 2]);
    assert.ok(!Object.isFrozen(b));
  });
  await t.step("a non-boolean freeze is a TypeError", () => {
    assert.throws(
      () => memoize(produce, { freeze: 1 as unknown as boolean }),
      { name: "TypeError", message: /freeze must be a boolean, received 1/ },
    );
  });
});

Deno.test("memoize: an array resized by its own getter mid-derivation lends its key to no other arguments", () => {
  // `a` grows from ["p"] to ["p", "q"] when its element 0 is read; `b` shrinks from
  // ["r", "s", "t"] to ["r", "s"]. The derivation once re-read the length on every element
  // while the snapshot kept the first one: sizes and elements disagreed, and a different
  // argument list, whose shape makes up the difference, matched the snapshot.
  const resizing = () => {
    const a: unknown[] = ["p"];
    Object.defineProperty(a, 0, {
      get() {
        if (a.length === 1) a.push("q");
        return "p";
      },
      enumerable: true,
      configurable: true,
    });
    const b: unknown[] = ["r", "s", "t"];
    Object.defineProperty(b, 0, {
      get() {
        if (b.length === 3) b.length = 2;
        return "r";
      },
      enumerable: true,
      configurable: true,
    });
    return [[a, b], "D"];
  };
  const other = [[["p"], "q"], ["r", "s", "D"]];
  const full = _argsKeyer(false);
  const out: { snapshot?: unknown[] } = {};
  assert.equal(full(resizing(), out), '[["p"],["r","s",undefined]],"D"');
  assert.equal(_unchanged(other, out.snapshot!), false);
  const f = memoize(function f(..._args: unknown[]) {});
  f.keyFor(...resizing());
  assert.equal(f.keyFor(...other), 'f([["p"],"q"],["r","s","D"])');
});

Deno.test("memoize: an argument mutated while fn runs is not stored under its old key", async (t) => {
  await t.step("the caller gets fn's result; the old content is computed again", async () => {
    await using cache = new MemoryCache();
    const runs: number[] = [];
    const f = memoize(async function f(o: { x: number }) {
      await Promise.resolve();
      runs.push(o.x);
      return o.x * 10;
    }, { cache });
    const o = { x: 1 };
    const first = f(o);
    o.x = 2;
    assert.equal(await first, 20);
    assert.equal(await cache.has('f({"x":"1"})'), false);
    assert.equal(await f({ x: 1 }), 10);
    assert.equal(await f({ x: 1 }), 10);
    assert.deepEqual(runs, [2, 1]);
  });
  await t.step("a caller that joined the flight with the old content asks again", async () => {
    await using cache = new MemoryCache();
    const gate = deferred<void>();
    const runs: number[] = [];
    const f = memoize(async function f(o: { x: number }) {
      await gate.promise;
      runs.push(o.x);
      return o.x * 10;
    }, { cache, freeze: true });
    const o = { x: 1 };
    const first = f(o);
    const joiner = f({ x: 1 });
    o.x = 2;
    gate.resolve();
    assert.deepEqual([await first, await joiner], [20, 10]);
    assert.deepEqual(runs, [2, 1]);
    assert.equal(await f({ x: 1 }), 10);
    assert.equal(runs.length, 2);
  });
  await t.step("over a byte-storing cache, whose read comes first", async () => {
    const disk = new Map<string, Uint8Array>();
    await using cache = new SharedBytesCache(disk);
    const f = memoize(function f(o: { x: number }) {
      return o.x * 10;
    }, { cache });
    const o = { x: 1 };
    const first = f(o);
    o.x = 2;
    assert.equal(await first, 20);
    assert.deepEqual([...disk.keys()], []);
    assert.equal(await f({ x: 1 }), 10);
  });
});

/**
 * A differential fuzzer of key reuse: a pool of argument lists that share objects, mutated
 * anywhere between calls, and structural copies of them (new objects with the same or almost
 * the same content, of the same or another kind). After every step, every one of the last
 * 16 snapshots that `_unchanged` accepts must have been recorded with the key the full
 * derivation gives now, and `keyFor` must give that key. Returns how many times a snapshot
 * matched and how many times one was refused.
 */
function fuzzKeyReuse(
  seed: number,
  steps: number,
  typed: boolean,
): { kept: number; refused: number } {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const long = "x".repeat(300);
  const names = ["a", "b", "1", "01", "-1", "1.5", "4294967295", "__proto__", "toJSON", "é", ""];
  const scalars: unknown[] = [
    0,
    -0,
    1,
    NaN,
    Infinity,
    2 ** 53,
    1n,
    0n,
    "",
    "1",
    "0",
    "-0",
    "NaN",
    "a",
    "\uD800",
    "\uDC00",
    "\uD800\uDC00",
    `${long}a`,
    `${long}b`,
    "null",
    "undefined",
    "true",
    true,
    false,
    null,
    undefined,
  ];
  const isDate = (v: object): v is Date => {
    try {
      Date.prototype.getTime.call(v);
      return true;
    } catch {
      return false;
    }
  };
  const isMap = (v: object): v is Map<unknown, unknown> => {
    try {
      Map.prototype.has.call(v, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** Getters read a cell a mutation may change: deterministic, like a field. */
  const cells: { v: unknown }[] = [];
  const objects: object[] = [];
  const value = (depth: number): unknown => {
    if (depth > 3 || random() < 0.35) return pick(scalars);
    if (objects.length > 0 && random() < 0.15) return pick(objects); // shared with other lists
    const kind = pick([
      "plain",
      "plain",
      "null",
      "array",
      "array",
      "sparse",
      "date",
      "map",
      "proxy",
    ]);
    let made: object;
    if (kind === "plain" || kind === "null" || kind === "proxy") {
      const o: Record<string, unknown> = kind === "null" ? Object.create(null) : {};
      const n = Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        const name = pick(names);
        if (random() < 0.15) {
          const cell = { v: value(depth + 1) };
          cells.push(cell);
          Object.defineProperty(o, name, {
            get: () => cell.v,
            enumerable: true,
            configurable: true,
          });
        } else Object.defineProperty(o, name, { value: value(depth + 1), ...OPEN });
      }
      made = kind === "proxy" ? new Proxy(o, {}) : o;
    } else if (kind === "array" || kind === "sparse") {
      const a: unknown[] = [];
      const n = Math.floor(random() * 4);
      for (let i = 0; i < n; i++) a[kind === "sparse" ? i * 2 : i] = value(depth + 1);
      made = a;
    } else if (kind === "date") made = new Date(pick([0, 1, -1, NaN, 8.64e15]));
    else made = new Map([[pick(scalars), value(depth + 1)]]);
    objects.push(made);
    return made;
  };
  /** A new object graph with `v`'s content, sometimes of another kind or slightly changed. */
  const copy = (v: unknown, depth = 0): unknown => {
    if (typeof v !== "object" || v === null || depth > 6) return v;
    const r = random();
    if (isDate(v)) return r < 0.1 ? new Date(v.getTime() + 1) : new Date(v.getTime());
    if (Array.isArray(v)) {
      const a = Array.from(
        { length: v.length },
        (_, i) => i in v ? copy(v[i], depth + 1) : undefined,
      );
      if (r < 0.05) return Object.assign({}, a); // an object with index fields
      if (r < 0.1) a.push(pick(scalars));
      return a;
    }
    if (isMap(v)) return r < 0.5 ? new Map(v) : Object.fromEntries(v);
    const o: Record<string, unknown> = Object.getPrototypeOf(v) === null ? Object.create(null) : {};
    const keys = Object.keys(v);
    if (r < 0.1) keys.reverse(); // the same fields in another order
    for (const k of keys) {
      Object.defineProperty(o, k, {
        value: copy((v as Record<string, unknown>)[k], depth + 1),
        ...OPEN,
      });
    }
    if (r > 0.95) Object.defineProperty(o, pick(names), { value: pick(scalars), ...OPEN });
    if (r > 0.9 && r <= 0.95) {
      Object.setPrototypeOf(o, Object.getPrototypeOf(o) === null ? {} : null);
    }
    return o;
  };
  const mutate = (lists: unknown[][]) => {
    const r = random();
    if (r < 0.1 && cells.length > 0) {
      pick(cells).v = random() < 0.5 ? pick(scalars) : value(2);
      return;
    }
    if (r < 0.2) {
      const list = pick(lists);
      list[Math.floor(random() * list.length)] = r < 0.15 ? copy(pick(list)) : value(1);
      return;
    }
    if (objects.length === 0) return;
    const o = pick(objects) as Record<string, unknown>;
    if (Object.isFrozen(o)) return;
    const v = random() < 0.7 ? pick(scalars) : value(2);
    if (isDate(o)) o.setTime(pick([0, 1, NaN, o.getTime()]));
    else if (isMap(o)) o.set(pick(scalars), v);
    else if (Array.isArray(o)) {
      const m = random();
      if (m < 0.25) Array.prototype.push.call(o, v);
      else if (m < 0.45) Array.prototype.pop.call(o);
      else if (m < 0.6) o.length = Math.floor(random() * 4); // holes
      else if (m < 0.7) Object.setPrototypeOf(o, pick([Object.prototype, null, Array.prototype]));
      else o[Math.floor(random() * (o.length + 1))] = v;
    } else {
      const keys = Object.keys(o);
      const m = random();
      const name = keys.length > 0 && m < 0.6 ? pick(keys) : pick(names);
      if (m < 0.2) delete o[name];
      else if (m < 0.3) {
        // Deleted and added again: the same content, another field order.
        const kept = o[name];
        delete o[name];
        Object.defineProperty(o, name, { value: kept, ...OPEN });
      } else if (m < 0.4) {
        // One field deleted, another added with the same value: the same count.
        const kept = o[name];
        delete o[name];
        Object.defineProperty(o, pick(names), { value: kept, ...OPEN });
      } else if (m < 0.5) {
        Object.setPrototypeOf(
          o,
          pick([null, Object.prototype, Array.prototype, Date.prototype, Map.prototype]),
        );
      } else if (m < 0.55 && name in o) Object.defineProperty(o, name, { enumerable: false });
      else if (m < 0.6) Object.freeze(o);
      else Object.defineProperty(o, name, { value: v, ...OPEN });
    }
  };
  const outcome = (derive: () => string): string => {
    try {
      return derive();
    } catch (error) {
      return `throws ${(error as Error).message}`;
    }
  };
  const full = _argsKeyer(typed);
  const f = memoize(function f(..._args: unknown[]) {}, { typed });
  const lists: unknown[][] = Array.from(
    { length: 4 },
    () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => value(0)),
  );
  const recorded: { snapshot: unknown[]; key: string }[] = [];
  let kept = 0;
  let refused = 0;
  for (let step = 0; step < steps; step++) {
    try {
      if (random() < 0.5) mutate(lists);
    } catch {
      // A mutation the object refuses (a non-configurable field): nothing else to do.
    }
    const args = random() < 0.2 ? pick(lists).map((v) => copy(v)) : pick(lists);
    const out: { snapshot?: unknown[] } = {};
    const want = outcome(() => full(args, out));
    for (const { snapshot, key } of recorded) {
      let same: boolean;
      try {
        same = _unchanged(args, snapshot);
      } catch {
        continue; // a check that throws reuses nothing
      }
      if (same) {
        kept++;
        assert.equal(key, want, `seed ${seed}, step ${step}: a matching snapshot of another key`);
      } else refused++;
    }
    assert.equal(outcome(() => f.keyFor(...args)), want.startsWith("throws") ? want : `f(${want})`);
    if (out.snapshot !== undefined) {
      recorded.push({ snapshot: out.snapshot, key: want });
      if (recorded.length > 16) recorded.shift();
    }
  }
  return { kept, refused };
}

const OPEN = { writable: true, enumerable: true, configurable: true } as const;

Deno.test("memoize: key reuse agrees with the full derivation (differential fuzz, fixed seeds)", () => {
  for (const typed of [false, true]) {
    for (const seed of [1, 2, 3]) {
      const { kept, refused } = fuzzKeyReuse(seed, 4_000, typed);
      assert.ok(kept > 1_000 && refused > 1_000, `seed ${seed}: kept ${kept}, refused ${refused}`);
    }
  }
  // A longer run by hand: MEMO_FUZZ_STEPS=1000000 deno test -A tests/memoize_test.ts --filter differential
  const steps = Number(Deno.env.get("MEMO_FUZZ_STEPS") ?? 0);
  for (let seed = 100; steps > 0 && seed < 110; seed++) {
    console.log(seed, fuzzKeyReuse(seed, steps, seed % 2 === 0));
  }
});

Deno.test("memoize: adversarial arguments next to a remembered one get their own key", () => {
  const f = memoize(function f(..._args: unknown[]) {});
  const full = _argsKeyer(false);
  const cases: [string, () => unknown[], () => unknown[]][] = [
    ["fields in another order: the same key", () => [{ a: 1, b: 2 }], () => [{ b: 2, a: 1 }]],
    ["an own __proto__ field", () => [{ a: 1 }], () => [JSON.parse('{"__proto__":1}')]],
    [
      "index-like names",
      () => [{ "1": "x", "01": "y" }],
      () => [{ "01": "x", "1": "y" }],
    ],
    [
      "the prototype changed to Date's",
      () => [{}],
      () => [Object.setPrototypeOf({}, Date.prototype)],
    ],
    [
      "a field deleted, another added with the same value",
      () => [{ a: 1, b: 2 }],
      () => [{ a: 1, c: 2 }],
    ],
    ["a hole and undefined", () => [[, 1]], () => [[undefined, 1]]],
    ["an array and an index-keyed object", () => [["x"]], () => [{ 0: "x" }]],
    ["a long string differing at its end", () => [{ s: `${"x".repeat(500)}a` }], () => [{
      s: `${"x".repeat(500)}b`,
    }]],
    ["a lone surrogate and its pair", () => [{ s: "\uD800" }], () => [{ s: "\uD800\uDC00" }]],
    ["0 and -0, typed or not", () => [{ n: 0 }], () => [{ n: -0 }]],
    ["1 and 1n", () => [{ n: 1 }], () => [{ n: 1n }]],
  ];
  const outcome = (args: unknown[]): string => {
    try {
      return `f(${full(args)})`;
    } catch (error) {
      return `throws ${(error as Error).message}`;
    }
  };
  for (const [name, first, second] of cases) {
    for (let round = 0; round < 3; round++) {
      for (const args of [first(), second()]) {
        let got: string;
        try {
          got = f.keyFor(...args);
        } catch (error) {
          got = `throws ${(error as Error).message}`;
        }
        assert.equal(got, outcome(args), name);
      }
    }
  }
  assert.equal(f.keyFor({ b: 2, a: 1 }), f.keyFor({ a: 1, b: 2 }));
});
