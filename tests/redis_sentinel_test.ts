// RedisCache behind Redis Sentinel (a master, 1 replica, 3 sentinels), started
// once for the whole file: the conformance suite three ways (sentinel options,
// a createSentinel client, a redis+sentinel:// URL), exact inc across
// processes, and a failover (last): typed errors within the timeout while the
// master is gone, recovery on the promoted replica, and no write to the old
// master once it is back.
import assert from "node:assert/strict";
import { createClient, createSentinel } from "redis";
import { runConformance } from "../testing.ts";
import { redisCommand, startSentinel, topologyTest, waitUntil } from "./cluster_servers.ts";
import { type Cache, CacheConnectionError, cacheFromUrl, RedisCache } from "../mod.ts";

const prefix = () => `test:${crypto.randomUUID()}:`;

topologyTest("RedisCache behind Redis Sentinel", "redis-sentinel", async (t) => {
  await using setup = await startSentinel({ sentinels: 3, replicas: 1 });
  const { name, sentinelRootNodes } = setup;
  const raw = createClient({ url: setup.master.url });
  raw.on("error", () => {});
  await raw.connect();
  const plantList = async (cache: Cache, key: string): Promise<"foreign"> => {
    await raw.rPush((cache as RedisCache).keyPrefix + key, "a list, not a cache entry");
    return "foreign";
  };
  const hosts = sentinelRootNodes.map(({ host, port }) => `${host}:${port}`).join(",");
  try {
    await t.step("conforms with sentinel options and a keyPrefix", async (t) => {
      await runConformance(t, {
        name: "RedisCache(sentinel, keyPrefix)",
        make: ({ defaultTtl, serializer }) =>
          new RedisCache({
            sentinel: { name, sentinelRootNodes },
            keyPrefix: prefix(),
            defaultTtl,
            serializer,
          }),
        quirks: { clock: "server", serializes: true },
        corrupt: plantList,
      });
    });

    await t.step("conforms over a createSentinel client given as client", async (t) => {
      const clients: { destroy(): unknown }[] = [];
      try {
        await runConformance(t, {
          name: "RedisCache(createSentinel client)",
          make: ({ defaultTtl, serializer }) => {
            // reserveClient, as design.md recommends: without it node-redis serializes a burst
            // of commands that arrive while no lease is held (one lease each, one at a time)
            const client = createSentinel({ name, sentinelRootNodes, reserveClient: true });
            clients.push(client);
            return new RedisCache({ client, keyPrefix: prefix(), defaultTtl, serializer });
          },
          quirks: { clock: "server", serializes: true },
          corrupt: plantList,
        });
      } finally {
        for (const client of clients) await client.destroy();
      }
    });

    await t.step("conforms from cacheFromUrl('redis+sentinel://…/mymaster')", async (t) => {
      await runConformance(t, {
        name: "cacheFromUrl(redis+sentinel)",
        make: ({ defaultTtl, serializer }) =>
          cacheFromUrl(
            `redis+sentinel://${hosts}/${name}?keyPrefix=${encodeURIComponent(prefix())}`,
            { defaultTtl, serializer },
          ),
        quirks: { clock: "server", serializes: true },
        corrupt: plantList,
      });
    });

    await t.step("inc() from 2 processes × 300 counts exactly 600", async () => {
      const keyPrefix = prefix();
      const url = `redis+sentinel://${hosts}/${name}?keyPrefix=${encodeURIComponent(keyPrefix)}`;
      const fixture = new URL("./fixtures/redis_cluster_race.ts", import.meta.url).pathname;
      const config = new URL("../deno.json", import.meta.url).pathname;
      const outputs = await Promise.all([1, 2].map(() =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--config", config, fixture, url, "inc", "counter", "300"],
          stdout: "piped",
          stderr: "piped",
        }).output()
      ));
      for (const output of outputs) {
        assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      }
      await using cache = new RedisCache({ sentinel: { name, sentinelRootNodes }, keyPrefix });
      assert.equal(await cache.get("counter"), 600);
    });

    await t.step(
      "a failover: typed errors within the timeout, then the promoted replica serves; the old master gets no writes",
      async () => {
        await using cache = new RedisCache({
          sentinel: { name, sentinelRootNodes },
          keyPrefix: "f:",
          timeout: 1000,
        });
        await waitUntil("the cache connects", () => cache.set("k", "before").catch(() => false));
        assert.equal(await redisCommand(setup.master.port, "WAIT", "1", "5000"), 1);
        const old = setup.master.address;
        await setup.master.kill();
        const errors: string[] = [];
        let served = false;
        await waitUntil("a replica is promoted and serves", async () => {
          try {
            await cache.set("k", "after");
            served = true;
          } catch (error) {
            assert.ok(error instanceof CacheConnectionError, String(error));
            assert.match(
              error.message,
              /^Cannot set key "k": redis master "mymaster" of sentinels at /,
            );
            assert.match(error.message, /is unavailable \(/);
            errors.push(error.message);
          }
          return served;
        }, 30_000);
        assert.ok(errors.length > 0, "no failed call while the master was down");
        // node-redis holds commands during the failover: the cache's deadline ends the wait
        assert.ok(
          errors.some((m) => m.endsWith("is unavailable (no answer within 1000 ms)")),
          errors.join("\n"),
        );
        const promoted = await setup.waitForFailover(old);
        assert.notEqual(promoted, old);
        assert.equal(await cache.get("k"), "after");
        assert.equal(await cache.inc("n"), 1);

        // The old master comes back (as a master, until the sentinels demote it):
        // the cache keeps writing to the promoted one.
        await setup.master.restart();
        await cache.set("k", "later");
        const port = Number(promoted.split(":")[1]);
        assert.equal(await redisCommand(port, "GET", "f:k"), "later");
        const role = await redisCommand(port, "ROLE") as [string];
        assert.equal(role[0], "master");
      },
    );
  } finally {
    raw.destroy();
  }
});
