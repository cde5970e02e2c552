// RedisCache on a real Redis Cluster (3 masters, 1 replica each), started once
// for the whole file: the conformance suite three ways (cluster options, a
// createCluster client, a redis+cluster:// URL), keys on every master, clear()
// on every master, exact inc and one-winner add across processes, and a
// master failover (last: it changes the cluster). keys() has a cluster of its own
// (3 masters, no replica): every master, escaped prefixes, a moved slot, no bookkeeping,
// a hung master.
import assert from "node:assert/strict";
import { createCluster } from "redis";
import { runConformance } from "../testing.ts";
import {
  type RedisClusterSetup,
  redisCommand,
  startRedisCluster,
  topologyTest,
  waitUntil,
} from "./cluster_servers.ts";
import { type Cache, CacheConnectionError, cacheFromUrl, RedisCache } from "../mod.ts";
import { keySlot } from "../backends/redis/_slots.ts";
import { checkNoBookkeepingListed } from "./fixtures/bookkeeping.ts";

const prefix = () => `test:${crypto.randomUUID()}:`;

/** Keys of `n` distinct slots at least (most of 400 keys land in distinct slots). */
const spread = (n = 400) => Array.from({ length: n }, (_, i) => `k${i}`);

/** A node-redis cluster client for looking behind the cache's back. */
async function rawCluster(cluster: RedisClusterSetup) {
  const client = createCluster({ rootNodes: cluster.rootNodes });
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function dbsizes(nodes: readonly { port: number }[]): Promise<number[]> {
  return await Promise.all(nodes.map(async (n) => Number(await redisCommand(n.port, "DBSIZE"))));
}

/** Runs the race fixture in `n` processes at once; resolves to their outputs. */
async function race(url: string, mode: "inc" | "add", key: string, count: number, n = 2) {
  const fixture = new URL("./fixtures/redis_cluster_race.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const outputs = await Promise.all(
    Array.from({ length: n }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, fixture, url, mode, key, String(count)],
        stdout: "piped",
        stderr: "piped",
      }).output()),
  );
  return outputs.map((output) => {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout).trim();
  });
}

topologyTest("RedisCache on a Redis Cluster", "redis-cluster", async (t) => {
  await using cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 1000 });
  const raw = await rawCluster(cluster);
  const plantList = async (cache: Cache, key: string): Promise<"foreign"> => {
    await raw.rPush((cache as RedisCache).keyPrefix + key, "a list, not a cache entry");
    return "foreign";
  };
  const hosts = cluster.masters.map((m) => m.address).join(",");
  try {
    await t.step("conforms with cluster options and a keyPrefix", async (t) => {
      await runConformance(t, {
        name: "RedisCache(cluster, keyPrefix)",
        make: ({ defaultTtl, serializer }) =>
          new RedisCache({
            cluster: { rootNodes: cluster.rootNodes },
            keyPrefix: prefix(),
            defaultTtl,
            serializer,
          }),
        quirks: { clock: "server", serializes: true },
        corrupt: plantList,
      });
    });

    await t.step("conforms without a keyPrefix (clear() flushes every master)", async (t) => {
      await runConformance(t, {
        name: "RedisCache(cluster)",
        make: async ({ defaultTtl, serializer }) => {
          const cache = new RedisCache({
            cluster: { rootNodes: cluster.rootNodes },
            defaultTtl,
            serializer,
          });
          await cache.clear();
          return cache;
        },
        quirks: { clock: "server", serializes: true, clearScope: "store" },
        corrupt: plantList,
      });
    });

    await t.step("conforms over a createCluster client given as client", async (t) => {
      const clients: { destroy(): void }[] = [];
      try {
        await runConformance(t, {
          name: "RedisCache(createCluster client)",
          make: ({ defaultTtl, serializer }) => {
            const client = createCluster({ rootNodes: cluster.rootNodes });
            clients.push(client);
            return new RedisCache({ client, keyPrefix: prefix(), defaultTtl, serializer });
          },
          quirks: { clock: "server", serializes: true },
          corrupt: plantList,
        });
      } finally {
        for (const client of clients) client.destroy();
      }
    });

    await t.step("conforms from cacheFromUrl('redis+cluster://…')", async (t) => {
      await runConformance(t, {
        name: "cacheFromUrl(redis+cluster)",
        make: ({ defaultTtl, serializer }) =>
          cacheFromUrl(`redis+cluster://${hosts}?keyPrefix=${encodeURIComponent(prefix())}`, {
            defaultTtl,
            serializer,
          }),
        quirks: { clock: "server", serializes: true },
        corrupt: plantList,
      });
    });

    await t.step("batches over 400 keys land on every master and never CROSSSLOT", async () => {
      await using cache = new RedisCache({ cluster: { rootNodes: cluster.rootNodes } });
      await cache.clear();
      const keys = spread();
      assert.ok(new Set(keys.map((k) => keySlot(k))).size > 350, "the batch spans many slots");
      assert.deepEqual(
        (await cache.setMany(keys.map((k, i): [string, number] => [k, i]))).sort(),
        [...keys].sort(),
      );
      for (const [i, size] of (await dbsizes(cluster.masters)).entries()) {
        assert.ok(size > 50, `master ${cluster.masters[i]!.address} holds ${size} keys`);
      }
      const batch = [...keys, "missing", "k3", "{user:1}:a", "{user:1}:b"];
      await cache.setMany([["{user:1}:a", "A"], ["{user:1}:b", "B"]]);
      assert.deepEqual(
        await cache.getMany(batch),
        [...keys.map((_, i) => i), undefined, 3, "A", "B"],
      );
      assert.equal(await cache.inc("k7", 5), 12);
      assert.equal(await cache.add("k8", "x"), false);
      assert.deepEqual((await cache.deleteMany([...keys, "missing"])).sort(), [...keys].sort());
      assert.deepEqual(await cache.getMany(keys.slice(0, 20)), keys.slice(0, 20).map(() => {}));
    });

    await t.step(
      "a cluster client that answers CROSSSLOT to a cross-slot MGET (node-redis 5) gets one MGET per slot",
      async () => {
        const client = createCluster({ rootNodes: cluster.rootNodes });
        await client.connect();
        let crossSlot = 0;
        // node-redis 5 has no request policies: a cross-slot MGET goes to the first key's
        // master as it is, and the server answers CROSSSLOT. Do just that here.
        const v5 = new Proxy(client, {
          get(target, name) {
            if (name === "sendCommand") {
              return async (first: string, readonly: boolean, args: string[], options?: object) => {
                if (args[0] !== "MGET") return target.sendCommand(first, readonly, args, options);
                const master = target.slots[keySlot(first)]!.master;
                const node = await target.nodeClient(master);
                try {
                  return await node.sendCommand(args, options);
                } catch (error) {
                  if (/^CROSSSLOT/.test((error as Error).message)) crossSlot++;
                  throw error;
                }
              };
            }
            const value = Reflect.get(target, name, target);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
        try {
          await using cache = new RedisCache({ client: v5, keyPrefix: prefix() });
          const keys = spread(100);
          await cache.setMany(keys.map((k, i): [string, number] => [k, i]));
          assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => i));
          assert.deepEqual(await cache.getMany(keys), keys.map((_, i) => i));
          assert.equal(crossSlot, 1, "the first getMany met CROSSSLOT, the second did not try");
        } finally {
          client.destroy();
        }
      },
    );

    await t.step(
      "clear() leaves dbsize 0 on every master; a prefixed clear() spares others",
      async () => {
        await using a = new RedisCache({
          cluster: { rootNodes: cluster.rootNodes },
          keyPrefix: "a:",
        });
        await using b = new RedisCache({
          cluster: { rootNodes: cluster.rootNodes },
          keyPrefix: "b:",
        });
        await using all = new RedisCache({ cluster: { rootNodes: cluster.rootNodes } });
        const keys = spread(300);
        await a.setMany(keys.map((k): [string, number] => [k, 1]));
        await b.setMany(keys.map((k): [string, number] => [k, 2]));
        assert.equal(await a.clear(), true);
        assert.deepEqual(await a.getMany(keys), keys.map(() => undefined));
        assert.deepEqual(await b.getMany(keys), keys.map(() => 2));
        for (const size of await dbsizes(cluster.masters)) assert.ok(size > 0);
        assert.equal(await all.clear(), true);
        assert.deepEqual(await dbsizes(cluster.masters), [0, 0, 0]);
      },
    );

    await t.step("inc() from 2 processes × 300 counts exactly 600", async () => {
      const keyPrefix = prefix();
      // A generous deadline: a fresh process loads npm:redis and discovers the cluster first.
      const url = `redis+cluster://${hosts}?keyPrefix=${
        encodeURIComponent(keyPrefix)
      }&timeout=20000`;
      assert.deepEqual(await race(url, "inc", "counter", 300), ["done", "done"]);
      await using cache = new RedisCache({ cluster: { rootNodes: cluster.rootNodes }, keyPrefix });
      assert.equal(await cache.get("counter"), 600);
    });

    await t.step("add() from 3 processes: exactly one wins", async () => {
      const keyPrefix = prefix();
      // A generous deadline: a fresh process loads npm:redis and discovers the cluster first.
      const url = `redis+cluster://${hosts}?keyPrefix=${
        encodeURIComponent(keyPrefix)
      }&timeout=20000`;
      const outputs = await race(url, "add", "once", 1, 3);
      assert.deepEqual(outputs.sort(), ["lost", "lost", "won"]);
    });

    await t.step(
      "a killed master: typed errors within the timeout, then its replica serves",
      async () => {
        await using cache = new RedisCache({
          cluster: { rootNodes: cluster.rootNodes },
          keyPrefix: "f:",
          timeout: 1000,
        });
        const victim = cluster.masters[0]!;
        const slots = await redisCommand(victim.port, "CLUSTER", "SLOTS") as [
          number,
          number,
          [string, number],
        ][];
        const [low, high] = slots.find((s) => s[2][1] === victim.port)!;
        const key = spread(2000).find((k) => {
          const slot = keySlot(`f:${k}`);
          return slot >= low && slot <= high;
        })!;
        // the first call connects to all 6 nodes: on a loaded machine that may take a while
        await waitUntil("the cache connects", () => cache.set(key, "before").catch(() => false));
        // the replica has it before the master goes
        assert.equal(await redisCommand(victim.port, "WAIT", "1", "5000"), 1);
        await victim.kill();
        const errors: string[] = [];
        // every call settles: a value, or a CacheConnectionError naming the key
        let served = false;
        await waitUntil("the replica takes over", async () => {
          try {
            await cache.set(key, "after");
            served = true;
          } catch (error) {
            assert.ok(error instanceof CacheConnectionError, String(error));
            assert.match(error.message, new RegExp(`^Cannot set key "${key}": redis cluster at `));
            // no answer within the timeout, a transient cluster state, or the node's
            // client offline (node-redis fails fast while it reconnects)
            assert.match(error.message, /is unavailable \(/);
            errors.push(error.message);
          }
          return served;
        }, 30_000);
        assert.ok(errors.length > 0, "no failed call while the master was down");
        // The replica serves; the other nodes may still name the dead master (or each other) for
        // its slots until they hear of the promotion, and node-redis, following their MOVED
        // replies, may then give up ("Too many Cluster redirections", a CacheConnectionError).
        // The calls below are not retried: let every running node agree first (bounded).
        await cluster.waitForOk(30_000);
        assert.equal(await cache.get(key), "after");
        assert.equal(await cache.inc("n"), 1);
        const others = spread(50).filter((k) => k !== key);
        assert.deepEqual(await cache.getMany([key, ...others]), [
          "after",
          ...others.map(() => undefined),
        ]);
      },
    );
  } finally {
    raw.destroy();
  }
});

/** Moves `slot` from the master `from` to the master `to`, keys included (a resharding). */
async function moveSlot(
  masters: readonly { port: number; id: string }[],
  slot: number,
  from: { port: number; id: string },
  to: { port: number; id: string },
) {
  const s = String(slot);
  await redisCommand(to.port, "CLUSTER", "SETSLOT", s, "IMPORTING", from.id);
  await redisCommand(from.port, "CLUSTER", "SETSLOT", s, "MIGRATING", to.id);
  for (;;) {
    const keys = await redisCommand(from.port, "CLUSTER", "GETKEYSINSLOT", s, "100") as string[];
    if (keys.length === 0) break;
    await redisCommand(
      from.port,
      "MIGRATE",
      "127.0.0.1",
      String(to.port),
      "",
      "0",
      "5000",
      "KEYS",
      ...keys,
    );
  }
  for (const master of masters) {
    await redisCommand(master.port, "CLUSTER", "SETSLOT", s, "NODE", to.id);
  }
}

topologyTest(
  "RedisCache.keys() on a Redis Cluster: every master, escaped prefixes, a moved slot, a master down",
  "redis-cluster",
  async (t) => {
    await using cluster = await startRedisCluster({ masters: 3 });
    const rootNodes = cluster.rootNodes;
    const id = crypto.randomUUID();
    // Unescaped, this prefix's pattern `t[ab]*?\<id>:*` would also match the sibling's keys.
    const keyPrefix = `t[ab]*?\\${id}:`;
    await using cache = new RedisCache({ cluster: { rootNodes }, keyPrefix });
    await using sibling = new RedisCache({ cluster: { rootNodes }, keyPrefix: `tbXY${id}:` });
    const keys = spread(400);
    const hostile = ["a*", "a?", "a[1]", "a[", "a\\", "ab", "a]"];
    const list = async (prefix?: string) => (await Array.fromAsync(cache.keys(prefix))).sort();

    await t.step("lists exactly the keys written, spread over every master", async () => {
      await cache.setMany([...keys, ...hostile].map((k, i): [string, number] => [k, i]));
      await sibling.setMany(keys.map((k): [string, number] => [k, 0]));
      for (const [i, size] of (await dbsizes(cluster.masters)).entries()) {
        assert.ok(size > 100, `master ${cluster.masters[i]!.address} holds ${size} keys`);
      }
      const listed = await Array.fromAsync(cache.keys());
      assert.equal(listed.length, keys.length + hostile.length, "each key once");
      assert.deepEqual(listed.sort(), [...keys, ...hostile].sort());
      assert.deepEqual(await list("k39"), [
        "k39",
        "k390",
        "k391",
        "k392",
        "k393",
        "k394",
        "k395",
        "k396",
        "k397",
        "k398",
        "k399",
      ]);
      assert.deepEqual(await list("a*"), ["a*"], "* is literal");
      assert.deepEqual(await list("a?"), ["a?"], "? is literal");
      assert.deepEqual(await list("a["), ["a[", "a[1]"], "[ is literal");
      assert.deepEqual(await list("a\\"), ["a\\"], "\\ is literal");
      assert.deepEqual(await list("a]"), ["a]"]);
      assert.deepEqual(await list("nothing"), []);
      assert.equal((await Array.fromAsync(sibling.keys())).length, keys.length);
    });

    await t.step(
      "over a cluster client without cluster-wide SCAN chains (node-redis 5), every master is listed",
      async () => {
        const client = createCluster({ rootNodes });
        await client.connect();
        // node-redis 5 sends a keyless SCAN to one node, its cursor that node's: do just that
        const v5 = new Proxy(client, {
          get(target, name) {
            if (name === "sendCommand") {
              return async (first: string, readonly: boolean, args: string[], options?: object) => {
                if (args[0] !== "SCAN") return target.sendCommand(first, readonly, args, options);
                return (await target.nodeClient(target.masters[0]!)).sendCommand(args, options);
              };
            }
            const value = Reflect.get(target, name, target);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
        try {
          await using over = new RedisCache({ client: v5, keyPrefix });
          assert.deepEqual(
            (await Array.fromAsync(over.keys())).sort(),
            [...keys, ...hostile].sort(),
          );
        } finally {
          client.destroy();
        }
      },
    );

    await t.step("a key whose slot moved to another master is still listed once", async () => {
      const slots = await redisCommand(cluster.masters[0]!.port, "CLUSTER", "SLOTS") as [
        number,
        number,
        [string, number],
      ][];
      const key = keys[0]!;
      const slot = keySlot(keyPrefix + key);
      const owner = slots.find(([low, high]) => slot >= low && slot <= high)![2][1];
      const from = cluster.masters.find((m) => m.port === owner)!;
      const to = cluster.masters.find((m) => m.port !== owner)!;
      // other keys (the sibling's, or this cache's) may share the slot: they all move
      const inSlot = await redisCommand(from.port, "CLUSTER", "COUNTKEYSINSLOT", String(slot));
      assert.ok(Number(inSlot) >= 1);
      await moveSlot(cluster.masters, slot, from, to);
      assert.equal(await redisCommand(to.port, "CLUSTER", "COUNTKEYSINSLOT", String(slot)), inSlot);
      // the cache's slot map is stale now: listing scans every master whatever the map says
      const listed = await Array.fromAsync(cache.keys());
      assert.deepEqual(listed.sort(), [...keys, ...hostile].sort());
      assert.equal(await cache.get(key), 0, "MOVED is followed");
      await using fresh = new RedisCache({ cluster: { rootNodes }, keyPrefix });
      assert.deepEqual(
        (await Array.fromAsync(fresh.keys(key))).sort(),
        keys.filter((k) => k.startsWith(key)).sort(),
      );
    });

    await t.step("lists no bookkeeping (tag versions, namespaces, locks)", async () => {
      await using bare = new RedisCache({ cluster: { rootNodes }, keyPrefix: `bk${id}:` });
      await checkNoBookkeepingListed(bare);
    });

    await t.step("a master that does not answer rejects the step, naming it", async () => {
      await using short = new RedisCache({ cluster: { rootNodes }, keyPrefix, timeout: 500 });
      assert.equal(await short.has("k1"), true); // connected to every master
      const victim = cluster.masters[1]!;
      victim.pause();
      try {
        await assert.rejects(Array.fromAsync(short.keys()), (e: Error) => {
          assert.ok(e instanceof CacheConnectionError, String(e));
          assert.equal(
            e.message,
            `Cannot keys: redis cluster at ${cluster.masters.map((m) => m.address).join(", ")} ` +
              `is unavailable (master ${victim.address} gave no answer within 500 ms)`,
          );
          return true;
        });
      } finally {
        victim.resume();
      }
      await cluster.waitForOk();
    });
  },
);
