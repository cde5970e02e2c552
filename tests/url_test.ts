import assert from "node:assert/strict";
import {
  cacheFromUrl,
  DenoKvCache,
  FileSystemCache,
  MemcachedCache,
  memoize,
  MemoryCache,
  NullCache,
  parseCacheUrl,
  POLICIES,
  RedisCache,
  UwsgiCache,
} from "../mod.ts";
import { serverTest } from "./servers.ts";

Deno.test("parseCacheUrl gives each scheme's constructor options", async (t) => {
  const cases: [string, unknown][] = [
    ["memory://", { scheme: "memory", options: {} }],
    [
      "memory://?maxEntries=1000&maxBytes=1048576&defaultTtl=60000&policy=lru&clone=false",
      {
        scheme: "memory",
        options: {
          maxEntries: 1000,
          maxBytes: 1048576,
          defaultTtl: 60000,
          policy: "lru",
          clone: false,
        },
      },
    ],
    ["MEMORY:///?maxEntries=0", { scheme: "memory", options: { maxEntries: 0 } }],
    ["null://", { scheme: "null", options: {} }],
    ["null://?defaultTtl=0", { scheme: "null", options: { defaultTtl: 0 } }],
    ["file:///var/cache/app", { scheme: "file", options: { dir: "/var/cache/app" } }],
    ["file:///var/cache/my%20app/", { scheme: "file", options: { dir: "/var/cache/my app" } }],
    ["file://localhost/srv/c", { scheme: "file", options: { dir: "/srv/c" } }],
    ["file:///C:/cache", { scheme: "file", options: { dir: "C:/cache" } }],
    [
      "file://?appName=myapp&maxEntries=100&defaultTtl=5000&mode=0600",
      {
        scheme: "file",
        options: { appName: "myapp", maxEntries: 100, defaultTtl: 5000, mode: 0o600 },
      },
    ],
    ["file:///tmp/c?mode=644", { scheme: "file", options: { dir: "/tmp/c", mode: 0o644 } }],
    [
      "redis://:s3cret@cache.internal:6380/2?keyPrefix=app:&defaultTtl=1000&timeout=500",
      {
        scheme: "redis",
        options: {
          url: "redis://:s3cret@cache.internal:6380/2",
          keyPrefix: "app:",
          defaultTtl: 1000,
          timeout: 500,
        },
      },
    ],
    ["redis://localhost", { scheme: "redis", options: { url: "redis://localhost" } }],
    ["rediss://user:pw@h:1/", { scheme: "redis", options: { url: "rediss://user:pw@h:1/" } }],
    ["redis://[::1]:6379/0", { scheme: "redis", options: { url: "redis://[::1]:6379/0" } }],
    [
      "memcached://10.0.0.1:11211,10.0.0.2,[::1]:11212?keyPrefix=app:&timeout=250",
      {
        scheme: "memcached",
        options: {
          servers: ["10.0.0.1:11211", "10.0.0.2:11211", "[::1]:11212"],
          keyPrefix: "app:",
          timeout: 250,
        },
      },
    ],
    ["memcached://", { scheme: "memcached", options: { servers: ["127.0.0.1:11211"] } }],
    ["memcached://h:1?keyPrefix=", {
      scheme: "memcached",
      options: { servers: ["h:1"], keyPrefix: "" },
    }],
    [
      "uwsgi://127.0.0.1:3031/sessions?defaultTtl=2000&timeout=100",
      {
        scheme: "uwsgi",
        options: { server: "127.0.0.1:3031", cache: "sessions", defaultTtl: 2000, timeout: 100 },
      },
    ],
    ["uwsgi://[::1]:3031", { scheme: "uwsgi", options: { server: "[::1]:3031" } }],
    ["denokv://", { scheme: "denokv", options: {} }],
    ["denokv:///tmp/kv.db", { scheme: "denokv", options: { path: "/tmp/kv.db" } }],
    [
      "denokv://?prefix=app&prefix=cache&defaultTtl=10",
      { scheme: "denokv", options: { prefix: ["app", "cache"], defaultTtl: 10 } },
    ],
  ];
  for (const [url, expected] of cases) {
    await t.step(url, () => assert.deepEqual(parseCacheUrl(url), expected));
  }
  await t.step("a URL object", () => {
    assert.deepEqual(parseCacheUrl(new URL("file:///a/b")), {
      scheme: "file",
      options: { dir: "/a/b" },
    });
  });
});

Deno.test("parseCacheUrl rejects bad URLs with a TypeError listing what is accepted", async (t) => {
  const cases: [unknown, RegExp][] = [
    [
      "ftp://x",
      /unknown scheme "ftp"; expected one of memory:\/\/, null:\/\/, file:\/\/, redis:\/\/ \(or rediss:\/\/, redis\+cluster:\/\/, redis\+sentinel:\/\/\), memcached:\/\/, uwsgi:\/\/, denokv:\/\//,
    ],
    ["memory", /expected scheme:\/\/…, one of memory:\/\//],
    [42, /expected a string or URL, received 42/],
    [
      "memory://?size=1",
      /unknown parameter "size" for memory:\/\/; accepted: maxEntries, maxBytes, defaultTtl, policy, clone/,
    ],
    ["null://?maxEntries=1", /unknown parameter "maxEntries" for null:\/\/; accepted: defaultTtl/],
    [
      "redis://h?db=1",
      /unknown parameter "db" for redis:\/\/; accepted: keyPrefix, defaultTtl, timeout/,
    ],
    ["memory://?maxEntries=-1", /maxEntries must be an integer >= 0, received "-1"/],
    ["memory://?maxEntries=1.5", /maxEntries must be an integer >= 0, received "1.5"/],
    ["memory://?maxEntries=", /maxEntries must be an integer >= 0, received ""/],
    ["memory://?defaultTtl=1m", /defaultTtl must be an integer >= 0 \(ms\), received "1m"/],
    ["memory://?maxEntries=1&maxEntries=2", /parameter "maxEntries" is given 2 times/],
    [
      "memory://?policy=nope",
      new RegExp(`policy must be one of ${Object.keys(POLICIES).join(", ")}`),
    ],
    ["memory://?clone=yes", /clone must be true or false, received "yes"/],
    ["memory://host", /memory:\/\/ takes no host, received "host"/],
    ["memory:///path", /memory:\/\/ takes no path, received "\/path"/],
    ["memory://#x", /a fragment/],
    ["file://", /give a directory \(file:\/\/\/var\/cache\/app\) or \?appName=/],
    ["file:///a?appName=b", /give a directory or appName, not both/],
    ["file://host/a", /not a host \("host"\)/],
    ["file://?appName=../x", /appName must be a name of letters/],
    ["file://?appName=..", /appName must be a name of letters/],
    ["file:///a?mode=999", /mode must be an octal file mode such as 0600/],
    ["file:///a%zz", /not valid percent-encoding/],
    ["redis://", /redis:\/\/ needs a host/],
    ["redis://h/db1", /the path must be a database number like \/0, received "\/db1"/],
    ["redis://h:0", /expected host\[:port\], received "h:0"/],
    ["memcached://a:1,,b:2", /expected host\[:port\], received ""/],
    ["memcached://h:70000", /received "h:70000"/],
    ["memcached://u:p@h", /memcached:\/\/ takes no user or password/],
    ["memcached://h/x", /memcached:\/\/ takes no path/],
    ["uwsgi://", /uwsgi:\/\/ needs host:port/],
    ["uwsgi://h/c", /expected host:port, received "h"/],
    ["uwsgi://h:1/a/b", /the path must be the cache name, as in uwsgi:\/\/h:1\/cachename/],
    ["denokv://host/x", /denokv:\/\/ takes no host/],
  ];
  for (const [url, message] of cases) {
    await t.step(String(url), () => {
      assert.throws(() => parseCacheUrl(url as string), { name: "TypeError", message });
    });
  }
});

Deno.test("parseCacheUrl hides a password in its errors", () => {
  assert.throws(() => parseCacheUrl("redis://admin:hunter2@h:1/x"), (error: Error) => {
    assert.match(error.message, /"redis:\/\/\*\*\*@h:1\/x"/);
    assert.doesNotMatch(error.message, /hunter2/);
    return true;
  });
});

/** Every text an error exposes: message, stack and the same for each cause, recursively. */
function exposedText(error: unknown, seen = new Set<unknown>()): string {
  if (seen.has(error)) return "";
  seen.add(error);
  if (!(error instanceof Error)) return String(error);
  let text = `${String(error)}\n${error.message}\n${error.stack ?? ""}`;
  if ("cause" in error) text += `\n${exposedText(error.cause, seen)}`;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) text += `\n${exposedText(inner, seen)}`;
  }
  return text;
}

Deno.test("cacheFromUrl never echoes a credential in a message, cause or stack", async (t) => {
  // [url, options, the secret substrings that must not appear]
  const cases: [string | URL, Record<string, unknown>, string[]][] = [
    ["redis://admin:hunter2@h:1/x", {}, ["hunter2"]],
    ["redis://admin:p@ss@h:0", {}, ["p@ss", "ss@h"]],
    ["redis://admin:p@ss@h:1/db1", {}, ["p@ss", "ss@h"]],
    ["redis://:hunter2@", {}, ["hunter2"]],
    ["redis://user:pa/ss-secret@host", {}, ["pa/ss", "ss-secret", "user:pa"]],
    ["redis://user:pa?ss-secret@host", {}, ["ss-secret", "user:pa"]],
    ["redis://user:pa#ss-secret@host", {}, ["ss-secret", "user:pa"]],
    ["redis://u:hunter2@h?db=1", {}, ["hunter2"]],
    ["rediss://u:hunter2@h#frag", {}, ["hunter2"]],
    ["redis://u:hunter2@h?timeout=abc", {}, ["hunter2"]],
    ["redis://u:s3cr3t%40x@h:1/x", {}, ["s3cr3t", "s3cr3t@x"]],
    [new URL("redis://u:hunter2@h:1/x"), {}, ["hunter2"]],
    ["redis://u:hunter2@h:1", { timeout: -1 }, ["hunter2"]],
    ["memory://alice:hunter2@", {}, ["hunter2", "alice"]],
    ["memory://alice:hunter2@host", {}, ["hunter2", "alice"]],
    ["memory://tok3nABCDEF@", {}, ["tok3nABCDEF"]],
    ["memory://u:pa?ss-secret@h", {}, ["ss-secret", "u:pa"]],
    ["memory://", { policy: "redis://u:hunter2@h" }, ["hunter2"]],
    ["null://u:hunter2@x", {}, ["hunter2"]],
    ["file://u:hunter2@/tmp/x", {}, ["hunter2"]],
    ["file://u:hunter2@host/x", {}, ["hunter2"]],
    ["file:///proc/hunter2-dir@1/x", {}, ["hunter2"]],
    ["denokv://u:hunter2@/path", {}, ["hunter2"]],
    ["denokv://hunter2token@", {}, ["hunter2"]],
    ["denokv://x?token=hunter2", {}, ["hunter2"]],
    ["memcached://u:hunter2@h:1", {}, ["hunter2"]],
    ["memcached://u:p@ss@h", {}, ["p@ss", "ss@h"]],
    ["memcached://u:hunter2@h:1,h2:2", {}, ["hunter2"]],
    ["uwsgi://u:hunter2@h:1/c", {}, ["hunter2"]],
    ["uwsgi://u:hunter2@h", {}, ["hunter2"]],
  ];
  for (const [url, options, secrets] of cases) {
    await t.step(String(url), async () => {
      let error: unknown;
      try {
        const cache = cacheFromUrl(url, options);
        await cache.close();
      } catch (caught) {
        error = caught;
      }
      assert.ok(error instanceof Error, `expected ${String(url)} to be rejected`);
      const text = exposedText(error);
      for (const secret of secrets) {
        assert.ok(!text.includes(secret), `${JSON.stringify(secret)} leaked in: ${text}`);
      }
    });
  }
});

Deno.test("parseCacheUrl accepts every registered eviction policy by name", () => {
  for (const policy of Object.keys(POLICIES)) {
    assert.deepEqual(parseCacheUrl(`memory://?policy=${policy}`), {
      scheme: "memory",
      options: { policy },
    });
  }
});

Deno.test("cacheFromUrl builds a MemoryCache with the URL's options", async () => {
  await using cache = cacheFromUrl("memory://?maxEntries=2&defaultTtl=60000&policy=lru");
  assert.ok(cache instanceof MemoryCache);
  assert.equal(cache.store.maxEntries, 2);
  assert.equal(cache.defaultTtl, 60000);
  await cache.set("a", 1);
  await cache.set("b", 2);
  await cache.set("c", 3);
  assert.deepEqual(await cache.getMany(["a", "b", "c"]), [undefined, 2, 3]);
  assert.equal(cache.stats().evictions, 1);
});

Deno.test("cacheFromUrl merges its options over the URL's", async () => {
  let now = 0;
  await using cache = cacheFromUrl("memory://?defaultTtl=100&maxEntries=5", {
    now: () => now,
    maxEntries: 10,
  });
  assert.ok(cache instanceof MemoryCache);
  assert.equal(cache.store.maxEntries, 10);
  await cache.set("k", "v");
  now = 99;
  assert.equal(await cache.get("k"), "v");
  now = 100;
  assert.equal(await cache.get("k"), undefined);
});

Deno.test("cacheFromUrl builds a NullCache from null://", async () => {
  await using cache = cacheFromUrl("null://?defaultTtl=0");
  assert.ok(cache instanceof NullCache);
  assert.equal(cache.defaultTtl, 0);
  assert.equal(await cache.set("a", 1), true);
  assert.equal(await cache.get("a"), undefined);
});

Deno.test("cacheFromUrl passes bad option values on to the backend's own checks", () => {
  assert.throws(() => cacheFromUrl("memory://", { maxEntries: -1 }), {
    name: "RangeError",
    message: /maxEntries must be an integer >= 0/,
  });
  assert.throws(() => cacheFromUrl("memory://", null as never), {
    name: "TypeError",
    message: /options must be an object, received null/,
  });
});

Deno.test("cacheFromUrl rejects unknown option names through the backend's constructor", () => {
  assert.throws(() => cacheFromUrl("memory://?maxEntries=2", { maxEntires: 5 }), {
    name: "TypeError",
    message: /^Cannot create MemoryCache: unknown option "maxEntires" \(accepted: clone, /,
  });
  assert.throws(() => cacheFromUrl("null://", { keyprefix: "a" }), {
    name: "TypeError",
    message: /^Cannot create NullCache: unknown option "keyprefix"/,
  });
});

Deno.test("cacheFromUrl builds a FileSystemCache in the URL's directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const url = `file://${dir}/cache?maxEntries=50&defaultTtl=60000&mode=0640`;
    {
      await using cache = cacheFromUrl(url);
      assert.ok(cache instanceof FileSystemCache);
      assert.equal(cache.defaultTtl, 60000);
      assert.equal(await cache.set("k", [1, 2]), true);
    }
    await using again = cacheFromUrl(url);
    assert.deepEqual(await again.get("k"), [1, 2], "a second instance reads the same files");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cacheFromUrl builds a DenoKvCache over the file at the URL's path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const url = `denokv://${dir}/kv.db?prefix=app&prefix=cache&defaultTtl=60000`;
    {
      await using cache = cacheFromUrl(url);
      assert.ok(cache instanceof DenoKvCache);
      assert.equal(cache.defaultTtl, 60000);
      assert.equal(await cache.set("k", { n: 1 }), true);
    }
    await using again = cacheFromUrl(url);
    assert.deepEqual(await again.get("k"), { n: 1 });
    await using otherPrefix = cacheFromUrl(`denokv://${dir}/kv.db?prefix=other`);
    assert.equal(await otherPrefix.get("k"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

serverTest("cacheFromUrl builds a UwsgiCache that memoize can use", "uwsgi", async (_t, [uw]) => {
  await using cache = cacheFromUrl(`${uw!.url}?timeout=2000`);
  assert.ok(cache instanceof UwsgiCache);
  assert.equal(cache.server, uw!.address);
  assert.equal(cache.cacheName, uw!.cacheName);
  let runs = 0;
  const double = memoize(async function double(n: number) {
    runs++;
    return await Promise.resolve(n === 0 ? undefined : n * 2);
  }, { cache, ttl: 60_000 });
  assert.equal(await double(21), 42);
  assert.equal(await double(21), 42);
  assert.equal(await double(0), undefined);
  assert.equal(await double(0), undefined);
  assert.equal(runs, 2);
  assert.equal(await cache.get(double.keyFor(21)), 42);
});

serverTest(
  "cacheFromUrl builds a working RedisCache with its keyPrefix",
  "redis",
  async (_t, [redis]) => {
    await using cache = cacheFromUrl(
      `${redis!.url}/0?keyPrefix=app:&defaultTtl=60000&timeout=2000`,
    );
    assert.ok(cache instanceof RedisCache);
    assert.equal(cache.defaultTtl, 60_000);
    await cache.set("k", { v: 1 });
    assert.deepEqual(await cache.get("k"), { v: 1 });
    await using other = cacheFromUrl(`${redis!.url}?keyPrefix=other:`);
    assert.equal(await other.get("k"), undefined, "another keyPrefix is another namespace");
  },
);

serverTest(
  "cacheFromUrl builds a MemcachedCache spread over every server listed",
  ["memcached", "memcached"],
  async (_t, [a, b]) => {
    await using cache = cacheFromUrl(`memcached://${a!.address},${b!.address}?keyPrefix=app:`);
    assert.ok(cache instanceof MemcachedCache);
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await cache.setMany(keys.map((k, i) => [k, i] as const));
    assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => i));
  },
);
