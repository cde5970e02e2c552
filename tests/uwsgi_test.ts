import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { runConformance } from "../testing.ts";
import { IN_CI, pauseProcess, type RunningServer, serverMissing, serverTest } from "./servers.ts";
import {
  CacheBatchError,
  CacheConnectionError,
  defaultSerializer,
  UwsgiCache,
  type UwsgiCacheOptions,
} from "../mod.ts";
import { decodeVars, encodePacket, request } from "../backends/uwsgi/_protocol.ts";

const encoder = new TextEncoder();

/** Room for the suite's 1 MiB string and every key it writes between two clears. */
const ROOMY = { kind: "uwsgi" as const, options: { blocksize: (1 << 20) + 4096, items: 400 } };

const connect = (
  server: RunningServer,
  options: Pick<UwsgiCacheOptions, "timeout" | "defaultTtl" | "serializer"> = {},
) => new UwsgiCache({ server: server.address, cache: server.cacheName, ...options });

/** A raw `cmd` request to the test server, for what the client API cannot show. */
const raw = (server: RunningServer, vars: [string, string][]) =>
  request(
    { hostname: server.host, port: server.port, timeout: 5000 },
    encodePacket([...vars, ["cache", server.cacheName]]),
  );

serverTest("UwsgiCache conforms (seconds, server clock, not atomic)", [ROOMY], async (t, [uw]) => {
  await runConformance(t, {
    name: "UwsgiCache",
    make: async ({ defaultTtl, serializer }) => {
      // One uWSGI cache is one namespace: each case starts from an empty one.
      const cache = connect(uw!, { defaultTtl, serializer });
      await cache.clear();
      return cache;
    },
    quirks: {
      ttlGranularity: "seconds",
      clock: "server",
      atomic: false,
      clearScope: "store",
      unsupported: { keys: "uWSGI's cache protocol has no command that lists keys" },
      serializes: true,
    },
  });
});

serverTest(
  "UwsgiCache.set() returns false for a value over the block size and the server stays usable",
  [{ kind: "uwsgi", options: { blocksize: 1024, items: 50 } }],
  async (_t, [uw]) => {
    await using cache = connect(uw!);
    assert.equal(await cache.set("fits", "x".repeat(1000)), true);
    // Just over the block size: uWSGI closes without reading the value.
    assert.equal(await cache.set("small-over", "x".repeat(1100)), false);
    // Far over it: uWSGI resets the connection while the value is still being sent.
    assert.equal(await cache.set("far-over", "x".repeat(1 << 20)), false);
    assert.equal(await cache.add("far-over", "x".repeat(1 << 20)), false);
    assert.deepEqual(await cache.setMany({ a: 1, b: "y".repeat(4096) }), ["a"]);
    assert.deepEqual(await cache.getMany(["small-over", "far-over", "b"]), [
      undefined,
      undefined,
      undefined,
    ]);
    assert.equal(await cache.get("fits"), "x".repeat(1000));
    assert.equal(cache.stats().sets, 2, "declined writes are not counted");
  },
);

serverTest(
  "UwsgiCache rejects with CacheConnectionError naming the key when the server is down",
  "uwsgi",
  async (_t, [uw]) => {
    await using cache = connect(uw!, { timeout: 2000 });
    await uw!.stop();
    const started = Date.now();
    for (const call of [() => cache.get("k"), () => cache.set("k", 1), () => cache.inc("k")]) {
      await assert.rejects(
        call(),
        (e: Error) =>
          e instanceof CacheConnectionError && e.message.includes('key "k"') &&
          /cannot connect to uWSGI at 127\.0\.0\.1:\d+/.test(e.message) && e.cause instanceof Error,
      );
    }
    await assert.rejects(cache.clear(), /^CacheConnectionError: Cannot clear: cannot connect/);
    assert.ok(Date.now() - started < 3 * 2000 + 2000, "each call fails within the timeout");
  },
);

Deno.test("UwsgiCache rejects within the timeout when the server never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    await using cache = new UwsgiCache({ server: `127.0.0.1:${port}`, cache: "c", timeout: 300 });
    const started = Date.now();
    await assert.rejects(
      cache.get("slow"),
      (e: Error) =>
        e instanceof CacheConnectionError &&
        e.message ===
          `Cannot get key "slow": no reply from uWSGI at 127.0.0.1:${port} within 300 ms`,
    );
    assert.ok(Date.now() - started < 300 + 2000, "rejects within the timeout (+ slack)");
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

serverTest("UwsgiCache recovers after the server restarts", "uwsgi", async (_t, [uw]) => {
  await using cache = connect(uw!, { timeout: 2000 });
  assert.equal(await cache.set("k", { v: 1 }), true);
  await uw!.stop();
  await assert.rejects(cache.get("k"), CacheConnectionError);
  await uw!.restart();
  assert.equal(await cache.get("k"), undefined, "a restarted uWSGI cache is empty");
  assert.equal(await cache.set("k", { v: 2 }), true);
  assert.deepEqual(await cache.get("k"), { v: 2 });
  assert.equal(await cache.inc("n", 3), 3);
});

serverTest(
  "UwsgiCache maps keys uWSGI cannot hold to distinct hashed keys",
  [ROOMY],
  async (_t, [uw]) => {
    await using cache = connect(uw!);
    await cache.clear();
    const hashOfEmpty = "\u0000h:" + createHash("sha256").update("").digest("base64url");
    const keys = ["", hashOfEmpty, "\u0000", "\uD800", "\uFFFD", "é".repeat(125), "é".repeat(126)];
    for (const [i, key] of keys.entries()) assert.equal(await cache.set(key, i), true);
    assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => i));
    // A 250-byte key is stored as it is; the 252-byte one was hashed.
    const asIs = await raw(uw!, [["cmd", "exists"], ["key", "é".repeat(125)]]);
    assert.equal(asIs?.vars.get("status"), "ok");
    assert.equal(await raw(uw!, [["cmd", "exists"], ["key", "é".repeat(126)]]), null);
  },
);

serverTest(
  "UwsgiCache sends ttls as whole seconds, rounded up, and 0 as no expiry",
  "uwsgi",
  async (_t, [uw]) => {
    await using cache = connect(uw!);
    const now = Math.floor(Date.now() / 1000);
    await cache.set("ms", 1, 1);
    await cache.set("s", 1, 1500);
    await cache.set("never", 1, 0);
    const expires = async (key: string) =>
      Number((await raw(uw!, [["cmd", "get"], ["key", key]]))?.vars.get("expires") ?? 0);
    assert.ok([now + 1, now + 2].includes(await expires("ms")), "1 ms is 1 s");
    assert.ok([now + 2, now + 3].includes(await expires("s")), "1.5 s is 2 s");
    assert.equal(await expires("never"), 0);
    const before = await expires("s");
    await cache.inc("s");
    // Sent as remaining seconds, so a second ticking in between can add one.
    assert.ok([before, before + 1].includes(await expires("s")), "inc() keeps the expiry");
  },
);

serverTest(
  "UwsgiCache takes cachelib's name@server form and checks its options",
  "uwsgi",
  async (_t, [uw]) => {
    await using cache = new UwsgiCache({ cache: `${uw!.cacheName}@${uw!.address}` });
    assert.equal(cache.server, uw!.address);
    assert.equal(cache.cacheName, uw!.cacheName);
    assert.equal(await cache.set("k", "v"), true);
    assert.equal(await cache.get("k"), "v");
    assert.throws(
      () => new UwsgiCache({ cache: "a@127.0.0.1:1", server: "127.0.0.1:2" }),
      (e: Error) => e instanceof TypeError && /names server "127\.0\.0\.1:1"/.test(e.message),
    );
    for (const server of ["localhost", "h:0", "h:70000", "h:12x", ":80"]) {
      assert.throws(() => new UwsgiCache({ server }), TypeError, server);
    }
    assert.equal(new UwsgiCache({ server: "[::1]:3031" }).server, "[::1]:3031");
    for (const timeout of [0, -1, NaN, Infinity]) {
      assert.throws(() => new UwsgiCache({ timeout }), RangeError);
    }
    // uWSGI answers an unknown cache name like a miss: reads miss, writes are declined.
    await using unknown = new UwsgiCache({ server: uw!.address, cache: "no-such-cache" });
    assert.equal(await unknown.get("k"), undefined);
    assert.equal(await unknown.set("k", 1), false);
  },
);

serverTest(
  "UwsgiCache runs one instance's concurrent inc() of a key one at a time, losing no count",
  "uwsgi",
  async (_t, [uw]) => {
    await using cache = connect(uw!);
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => i % 3 === 2 ? cache.dec("n", 2) : cache.inc("n", 3)),
    );
    assert.equal(await cache.get("n"), 40 * 3 - 20 * 2);
    assert.deepEqual(
      [...results].sort((a, b) => a - b),
      [...new Set(results)].sort((a, b) => a - b),
      "every call saw a different intermediate value",
    );
    await cache.set("text", "x");
    const [bad, good] = await Promise.allSettled([cache.inc("text"), cache.inc("n")]);
    assert.equal(bad.status, "rejected", "a failed inc() rejects");
    assert.deepEqual(good, { status: "fulfilled", value: 81 }, "and does not block the next one");
  },
);

Deno.test("uwsgi packets encode to the exact bytes uWSGI reads and decode back", () => {
  const packet = encodePacket([["cmd", "set"], ["key", "é"]], new Uint8Array([7, 8]));
  assert.deepEqual(
    [...packet],
    [111, 19, 0, 17, 3, 0, ...encoder.encode("cmd"), 3, 0, ...encoder.encode("set")]
      .concat([3, 0, ...encoder.encode("key"), 2, 0, 0xc3, 0xa9, 7, 8]),
  );
  assert.deepEqual([...decodeVars(packet.subarray(4, 23))], [["cmd", "set"], ["key", "é"]]);
  assert.throws(() => decodeVars(new Uint8Array([5, 0, 97])), /var runs past the packet/);
  assert.throws(() => decodeVars(new Uint8Array([1])), /truncated var length/);
  assert.throws(() => encodePacket([["key", "k".repeat(70_000)]]), RangeError);
  assert.throws(() => encodePacket([["a", "k".repeat(40_000)], ["b", "k".repeat(40_000)]]), {
    message: "uwsgi vars are 80010 bytes, the limit is 65535",
  });
});

Deno.test("UwsgiCache rejects a malformed reply with CacheConnectionError", async (t) => {
  const replies: [string, Uint8Array, string][] = [
    ["another modifier1", new Uint8Array([5, 0, 0, 17]), "the reply has modifier1 5"],
    ["a cut header", new Uint8Array([111, 0]), "the reply ended inside its header"],
    ["cut vars", new Uint8Array([111, 10, 0, 17, 1, 0]), "the reply ended inside its vars"],
    [
      "a cut body",
      Uint8Array.from([111, 10, 0, 17, 4, 0, ...encoder.encode("size"), 2, 0, 57, 57, 1]),
      "the reply ended before its 99-byte body",
    ],
  ];
  for (const [name, reply, text] of replies) {
    await t.step(name, async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const serving = (async () => {
        const conn = await listener.accept();
        await conn.read(new Uint8Array(1024));
        await conn.write(reply);
        conn.close();
      })();
      try {
        const port = (listener.addr as Deno.NetAddr).port;
        await using cache = new UwsgiCache({ server: `127.0.0.1:${port}`, timeout: 2000 });
        await assert.rejects(
          cache.get("k"),
          (e: Error) =>
            e instanceof CacheConnectionError && e.message.includes('Cannot get key "k"') &&
            e.message.includes(text),
        );
      } finally {
        await serving;
        listener.close();
      }
    });
  }
});

serverTest(
  "UwsgiCache treats expired entries uWSGI has not swept yet as gone",
  "uwsgi",
  async (_t, [uw]) => {
    await using cache = connect(uw!);
    const keys = ["get", "has", "delete", "add", "inc"];
    for (let attempt = 1;; attempt++) {
      for (const key of keys) await cache.set(key, 10, 1000);
      // The last key written expires last (under load the writes can straddle a second).
      const expires = Number(
        (await raw(uw!, [["cmd", "get"], ["key", "inc"]]))?.vars.get("expires"),
      );
      await new Promise((resolve) => setTimeout(resolve, expires * 1000 - Date.now() + 20));
      // uWSGI's sweeper runs every 3 s: right after the expiry the entries are usually still there.
      const unswept = await raw(uw!, [["cmd", "exists"], ["key", "inc"]]);
      if (unswept?.vars.get("status") === "ok") break;
      assert.ok(attempt < 5, "uWSGI swept the entries within 20 ms of their expiry five times");
    }
    assert.equal(await cache.get("get"), undefined);
    assert.equal(await cache.has("has"), false);
    assert.equal(await cache.delete("delete"), false);
    assert.equal(await cache.add("add", "new"), true);
    assert.equal(await cache.get("add"), "new");
    assert.equal(await cache.inc("inc"), 1);
  },
);

/** A TCP listener on a free port that runs `serve` for every connection; closed by `stop()`. */
function listen(serve: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      served.push(serve(conn).catch(() => {}));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async stop() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed by serve
        }
      }
      await Promise.all(served);
    },
  };
}

/** Whether `e` is the CacheConnectionError of a call that ran out of its `timeout`. */
const timedOut = (op: string, key: string | undefined, timeout: number) => (e: Error) =>
  e instanceof CacheConnectionError &&
  e.message.startsWith(key === undefined ? `Cannot ${op}: ` : `Cannot ${op} key "${key}": `) &&
  e.message.includes(`within ${timeout} ms`);

Deno.test("UwsgiCache: 100 concurrent calls against a silent server all fail within one timeout", async () => {
  // Accepts, reads the request, never answers; ends when the client gives up and closes.
  const silent = listen(async (conn) => {
    const buf = new Uint8Array(4096);
    while ((await conn.read(buf)) !== null);
  });
  try {
    const timeout = 1000;
    await using cache = new UwsgiCache({ server: `127.0.0.1:${silent.port}`, timeout });
    const started = Date.now();
    const calls = Array.from({ length: 100 }, (_, i) => {
      const key = `k${i}`;
      const [op, call] = [
        ["get", () => cache.get(key)],
        ["inc", () => cache.inc(key)],
        ["add", () => cache.add(key, 1)],
        ["delete", () => cache.delete(key)],
      ][i % 4] as [string, () => Promise<unknown>];
      return assert.rejects(call(), timedOut(op, key, timeout));
    });
    await Promise.all(calls);
    const took = Date.now() - started;
    // Before: 32 at a time, the wait for a slot outside the timeout: the last wave at ~4 s.
    assert.ok(took < 3 * timeout, `all 100 settled within one deadline (took ${took} ms)`);
    // The wait for a free connection is part of the deadline and says so.
    const queued = await Promise.allSettled(Array.from({ length: 40 }, () => cache.get("q")));
    const messages = queued.map((r) => (r as PromiseRejectedResult).reason.message as string);
    assert.ok(messages.every((m) => m.startsWith('Cannot get key "q": no reply from uWSGI')));
    assert.ok(messages.some((m) => m.includes("waited for one of the 32 connections")));
  } finally {
    await silent.stop();
  }
});

Deno.test("UwsgiCache: one deadline covers every request of inc() and delete()", async () => {
  // Answers each request after 800 ms: a get of "d" with a hit (the number 1), any other
  // get with a miss (a close), a write or del with status=ok.
  const ok = encodePacket([["status", "ok"]]);
  const one = defaultSerializer.serialize(1);
  const hit = encodePacket([["status", "ok"], ["size", String(one.length)]], one);
  const slow = listen(async (conn) => {
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    const vars = decodeVars(buf.subarray(4, 4 + (buf[1]! | (buf[2]! << 8))));
    await new Promise((resolve) => setTimeout(resolve, 800));
    if (vars.get("cmd") !== "get") await conn.write(ok);
    else if (vars.get("key") === "d") await conn.write(hit);
    conn.close();
  });
  try {
    const timeout = 1500;
    await using cache = new UwsgiCache({ server: `127.0.0.1:${slow.port}`, timeout });
    assert.equal(await cache.get("d"), 1, "one request fits the deadline");
    assert.equal(await cache.set("k", 1), true);
    // Two requests: 1.6 s of answers, over the call's 1.5 s (before: each request had 1.5 s).
    await assert.rejects(cache.inc("n"), timedOut("inc", "n", timeout));
    await assert.rejects(cache.delete("d"), timedOut("delete", "d", timeout));
  } finally {
    await slow.stop();
  }
});

/** Starts a single-process uWSGI (no master, so SIGSTOP stops all of it) on a free port. */
async function startBareUwsgi(): Promise<{ child: Deno.ChildProcess; port: number }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command("uwsgi", {
    args: [
      "--plugin",
      "cache",
      "--socket",
      `127.0.0.1:${port}`,
      "--cache2",
      "name=c,items=100,blocksize=65536",
      "--disable-logging",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 400; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { child, port };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`uwsgi did not listen on port ${port}`);
}

Deno.test({
  name: "UwsgiCache fails typed within its deadline against a SIGSTOPped uWSGI, then recovers",
  ignore: serverMissing("uwsgi") !== undefined && !IN_CI,
  fn: async () => {
    const { child, port } = await startBareUwsgi();
    try {
      const timeout = 1000;
      await using cache = new UwsgiCache({ server: `127.0.0.1:${port}`, cache: "c", timeout });
      assert.equal(await cache.set("k", "v"), true);
      await pauseProcess(child);
      const started = Date.now();
      await Promise.all([
        ...Array.from(
          { length: 60 },
          (_, i) => assert.rejects(cache.get(`g${i}`), timedOut("get", `g${i}`, timeout)),
        ),
        ...Array.from(
          { length: 20 },
          (_, i) => assert.rejects(cache.inc(`n${i}`), timedOut("inc", `n${i}`, timeout)),
        ),
        ...Array.from(
          { length: 20 },
          (_, i) => assert.rejects(cache.add(`a${i}`, 1), timedOut("add", `a${i}`, timeout)),
        ),
        assert.rejects(cache.delete("k"), timedOut("delete", "k", timeout)),
        assert.rejects(cache.clear(), timedOut("clear", undefined, timeout)),
      ]);
      const took = Date.now() - started;
      assert.ok(took < 3 * timeout, `every call settled within one deadline (took ${took} ms)`);
      child.kill("SIGCONT");
      assert.equal(await cache.get("k"), "v", "the same server answers again after SIGCONT");
    } finally {
      try {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
    }
  },
});

Deno.test("UwsgiCache rejects unknown options, listing the accepted ones", () => {
  assert.throws(() => new UwsgiCache({ host: "127.0.0.1", port: 3031 } as never), {
    name: "TypeError",
    message:
      'Cannot create UwsgiCache: unknown options "host", "port" (accepted: cache, defaultTtl, serializer, server, timeout)',
  });
});

Deno.test("UwsgiCache refuses a user:password@ server or cache spec without echoing the password", () => {
  const specs: [string, { server?: string; cache?: string }][] = [
    ["Hunter2Secret", { server: "app:Hunter2Secret@127.0.0.1:1" }],
    ["pa ss word", { server: "app:pa ss word@127.0.0.1:1" }],
    ["tok/en'x", { cache: "app:tok/en'x@127.0.0.1:1" }],
    ["p%20w", { server: "u:p%20w@127.0.0.1:1" }],
  ];
  for (const [secret, options] of specs) {
    assert.throws(
      () => new UwsgiCache(options),
      (e: Error) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.match(
          e.message,
          /^Cannot create UwsgiCache: uWSGI's cache protocol has no credentials/,
        );
        for (const form of [secret, decodeURIComponent(secret)]) {
          assert.ok(!e.message.includes(form), e.message);
          assert.ok(!String(e.stack).includes(form), String(e.stack));
        }
        return true;
      },
    );
  }
});

serverTest(
  "UwsgiCache.setMany() cut off by the server going away is a CacheBatchError listing exactly what was stored",
  [{ kind: "uwsgi", options: { items: 1000, blocksize: 4096 } }],
  async (_t, [uw]) => {
    // A proxy in front of the real server that passes on the first 100 connections, then
    // closes its listener: every later request finds the "server" gone.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const pipes: Promise<unknown>[] = [];
    const accepting = (async () => {
      for (let passed = 0; passed < 100; passed++) {
        const conn = await listener.accept();
        const upstream = await Deno.connect({ hostname: uw!.host, port: uw!.port });
        pipes.push(
          Promise.allSettled([
            conn.readable.pipeTo(upstream.writable),
            upstream.readable.pipeTo(conn.writable),
          ]),
        );
      }
      listener.close();
    })();
    const port = (listener.addr as Deno.NetAddr).port;
    await using cache = new UwsgiCache({ server: `127.0.0.1:${port}`, cache: uw!.cacheName });
    const keys = Array.from({ length: 400 }, (_, i) => `k${i}`);
    const error = await cache.setMany(keys.map((k) => [k, "v".repeat(2000)] as const), 0).then(
      () => assert.fail("setMany resolved"),
      (e) => e,
    );
    await accepting;
    await Promise.all(pipes);
    assert.ok(error instanceof CacheBatchError, String(error));
    assert.ok(error.cause instanceof CacheConnectionError, String(error.cause));
    assert.match(
      error.message,
      /^Cannot setMany: 300 of 400 keys failed \(first: Cannot setMany key "k\d+": /,
    );
    assert.equal(error.stored!.length, 100);
    await using direct = connect(uw!);
    const values = await direct.getMany(keys);
    assert.deepEqual(
      keys.filter((_, i) => values[i] !== undefined).sort(),
      [...error.stored!].sort(),
      "stored lists exactly the keys on the server",
    );
  },
);
