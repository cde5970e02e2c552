// The cluster command layer against a real Redis Cluster: single-key calls,
// batches routed by slot (no CROSSSLOT), every master cleared, transient
// cluster states and a hung master as CacheConnectionError within the timeout.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient, createCluster, ErrorReply, MaxCommandRedirectionsError } from "redis";
import { CacheConnectionError, CacheError } from "../cache.ts";
import {
  ClusterConnection,
  clusterFailure,
  isClusterClient,
  TRANSIENT_REPLIES,
} from "../backends/redis/_cluster.ts";
import { keySlot } from "../backends/redis/_slots.ts";
import { redisCommand, startRedisCluster, topologyTest } from "./cluster_servers.ts";

const text = (value: unknown) =>
  value === null ? null : Buffer.from(value as Uint8Array).toString();

Deno.test("clusterFailure() maps transient cluster replies to CacheConnectionError", () => {
  const where = "redis cluster at 127.0.0.1:7000";
  for (const code of TRANSIENT_REPLIES) {
    const error = clusterFailure("get", "k", new Error(`${code} detail`), where, () => true);
    assert.ok(error instanceof CacheConnectionError, code);
    assert.match(
      error.message,
      new RegExp(`^Cannot get key "k": ${where} is unavailable \\(${code} detail\\)$`),
    );
  }
  const other = clusterFailure("inc", "k", new Error("WRONGTYPE Operation"), where, () => true);
  assert.ok(other instanceof CacheError && !(other instanceof CacheConnectionError));
  assert.equal(
    other.message,
    'Cannot inc key "k": redis replied WRONGTYPE Operation (the key holds another redis type)',
  );
  const refused = clusterFailure(
    "clear",
    undefined,
    new Error("connect ECONNREFUSED"),
    where,
    () => false,
  );
  assert.ok(refused instanceof CacheConnectionError);
  assert.equal(refused.message, `Cannot clear: ${where} is unavailable (connect ECONNREFUSED)`);
});

Deno.test("clusterFailure() maps node-redis's 'Too many Cluster redirections' to CacheConnectionError naming the last redirect", () => {
  const where = "redis cluster at 127.0.0.1:7000";
  const isReply = (error: unknown) => error instanceof ErrorReply;
  for (const redirect of ["MOVED 866 127.0.0.1:7001", "ASK 866 127.0.0.1:7002"]) {
    const cause = new MaxCommandRedirectionsError(new ErrorReply(redirect));
    const error = clusterFailure("set", "k", cause, where, isReply);
    assert.ok(error instanceof CacheConnectionError, String(error));
    assert.equal(
      error.message,
      `Cannot set key "k": ${where} is unavailable (Too many Cluster redirections: ${redirect})`,
    );
    assert.equal(error.cause, cause);
  }
  // a wrapped reply that is not a transient state is not named as one
  const other = clusterFailure(
    "get",
    "k",
    new Error("wrapper", { cause: new ErrorReply("ERR unknown") }),
    where,
    isReply,
  );
  assert.ok(other instanceof CacheConnectionError);
  assert.equal(other.message, `Cannot get key "k": ${where} is unavailable (wrapper)`);
});

Deno.test("isClusterClient() tells a createCluster client from a createClient one", async () => {
  const cluster = createCluster({ rootNodes: [{ url: "redis://127.0.0.1:1" }] });
  const client = createClient({ url: "redis://127.0.0.1:1" });
  assert.equal(isClusterClient(cluster), true);
  assert.equal(isClusterClient(client), false);
  assert.equal(isClusterClient({}), false);
  assert.equal(isClusterClient(null), false);
  await Promise.resolve();
});

/** 300 keys spread over many slots, plus a hash-tagged group. */
const keysFor = (prefix: string) => [
  ...Array.from({ length: 290 }, (_, i) => `${prefix}:k${i}`),
  ...Array.from({ length: 10 }, (_, i) => `${prefix}:{tag}:${i}`),
];

topologyTest(
  "ClusterConnection routes calls and batches by slot and clears every master",
  "redis-cluster",
  async (t) => {
    await using cluster = await startRedisCluster({ masters: 3 });
    const conn = new ClusterConnection({
      cluster: { rootNodes: cluster.rootNodes },
      timeout: 5000,
    });
    try {
      const keys = keysFor("a");
      assert.ok(new Set(keys.map(keySlot)).size > 250, "the batch spans many slots");

      await t.step("pipeline() sets keys on every master; call() reads one back", async () => {
        const replies = await conn.pipeline(
          "setMany",
          keys,
          keys,
          keys.map((k) => ["SET", k, `v-${k}`]),
        );
        assert.deepEqual(replies, keys.map(() => "OK"));
        for (const master of cluster.masters) {
          assert.ok(
            Number(await redisCommand(master.port, "DBSIZE")) > 0,
            `${master.address} empty`,
          );
        }
        const one = await conn.call("get", "a:k7", "a:k7", ["GET", "a:k7"], text, true);
        assert.equal(one, "v-a:k7");
      });

      await t.step("perSlot() MGETs one command per slot and keeps batch order", async () => {
        const batch = [...keys, "a:missing", keys[3]!, "a:{tag}:2"];
        const values = await conn.perSlot("getMany", batch, (group) => ["MGET", ...group], true);
        assert.deepEqual(values.map(text), batch.map((k) => k === "a:missing" ? null : `v-${k}`));
      });

      await t.step("node-redis 6.3.1 splits one cross-slot MGET by slot itself", async () => {
        // Its request policy for MGET (multi_shard): the wiring may send one MGET through it
        // (measured faster than perSlot, see bench/redis_cluster_batch.ts). If an upgrade
        // drops this, this step fails and getMany must use perSlot().
        const values = await conn.call(
          "getMany",
          undefined,
          keys[0],
          ["MGET", ...keys],
          (v: unknown[]) => v,
          true,
        );
        assert.deepEqual(values.map(text), keys.map((k) => `v-${k}`));
      });

      await t.step("clear('b:*') removes only that prefix, on every master", async () => {
        const other = keysFor("b");
        await conn.pipeline("setMany", other, other, other.map((k) => ["SET", k, "x"]));
        await conn.clear("b:*", 7); // a small COUNT: several SCAN pages per master
        const left = await conn.perSlot("getMany", other, (g) => ["MGET", ...g], true);
        assert.deepEqual(left.filter((v) => v !== null), []);
        const kept = await conn.perSlot("getMany", keys, (g) => ["MGET", ...g], true);
        assert.equal(kept.filter((v) => v !== null).length, keys.length, "other prefixes survive");
      });

      await t.step("clear() flushes every master", async () => {
        await conn.clear();
        // FLUSHDB ASYNC frees memory in the background; the keyspace is empty at once.
        for (const master of cluster.masters) {
          assert.equal(await redisCommand(master.port, "DBSIZE"), 0, master.address);
        }
      });

      await t.step("forEachMaster() runs on each master once", async () => {
        const ids = await conn.forEachMaster(
          "ids",
          (client) => client.sendCommand(["CLUSTER", "MYID"]),
        );
        assert.deepEqual(ids.map(String).sort(), cluster.masters.map((m) => m.id).sort());
      });

      await t.step(
        "an error reply that is not transient is a CacheError naming the key",
        async () => {
          await conn.call("set", "a:list", "a:list", ["LPUSH", "a:list", "x"], () => 0);
          const failed = conn.call("inc", "a:list", "a:list", ["INCR", "a:list"], () => 0);
          await assert.rejects(failed, (error: Error) => {
            assert.ok(error instanceof CacheError && !(error instanceof CacheConnectionError));
            assert.match(error.message, /^Cannot inc key "a:list": redis replied WRONGTYPE/);
            return true;
          });
        },
      );

      await t.step(
        "two masters that each name the other for a slot: node-redis's redirection limit is a CacheConnectionError",
        async () => {
          // A split view, as while a failover or a slot move settles, made to last: the slot's
          // owner is told the slot is another master's; that master still names the owner.
          const owner = cluster.masters[0]!;
          const other = cluster.masters[1]!;
          let key = "";
          for (let i = 0; !key; i++) { // a key the owner serves (it answers no MOVED)
            const served = await redisCommand(owner.port, "GET", `loop:${i}`).then(
              () => true,
              () => false,
            );
            if (served) key = `loop:${i}`;
          }
          const slot = String(keySlot(key));
          assert.equal(await redisCommand(owner.port, "CLUSTER", "COUNTKEYSINSLOT", slot), 0);
          await redisCommand(owner.port, "CLUSTER", "SETSLOT", slot, "NODE", other.id);
          /** How many times `command` was refused (MOVED) on the two masters since RESETSTAT. */
          const refused = async (command: string) => {
            let sum = 0;
            for (const { port } of [owner, other]) {
              const stats = String(await redisCommand(port, "INFO", "commandstats"));
              sum += Number(
                new RegExp(`cmdstat_${command}:.*rejected_calls=(\\d+)`).exec(stats)?.[1] ?? 0,
              );
            }
            return sum;
          };
          for (const { port } of [owner, other]) await redisCommand(port, "CONFIG", "RESETSTAT");
          try {
            const loop = new RegExp(
              `is unavailable \\(Too many Cluster redirections: MOVED ${slot} 127\\.0\\.0\\.1:(${owner.port}|${other.port})\\)$`,
            );
            for (
              const [op, args, readonly] of [
                ["get", ["GET", key], true],
                ["set", ["SET", key, "x"], false],
              ] as const
            ) {
              await assert.rejects(
                conn.call(op, key, key, [...args], () => 0, readonly),
                (error: Error) => {
                  assert.ok(error instanceof CacheConnectionError, String(error));
                  assert.match(error.message, new RegExp(`^Cannot ${op} key "${key}": `));
                  assert.match(error.message, loop);
                  return true;
                },
              );
            }
            const sets = await refused("set");
            assert.ok(sets > 1, `node-redis followed ${sets} redirection(s)`);
            assert.equal(
              await refused("get"),
              2 * sets,
              "the read was sent once more, the write not",
            );
          } finally {
            await redisCommand(owner.port, "CLUSTER", "SETSLOT", slot, "NODE", owner.id);
          }
          assert.equal(await conn.call("get", key, key, ["GET", key], text, true), null);
        },
      );
    } finally {
      await conn.close();
    }
  },
);

topologyTest(
  "ClusterConnection: a hung master and a down cluster are CacheConnectionError within the timeout",
  "redis-cluster",
  async (t) => {
    await using cluster = await startRedisCluster({ masters: 3, nodeTimeout: 1000 });
    const conn = new ClusterConnection({ cluster: { rootNodes: cluster.rootNodes }, timeout: 500 });
    try {
      await conn.call("set", "warm", "warm", ["SET", "warm", "1"], () => 0);
      const victim = cluster.masters[0]!;
      const slots = await redisCommand(victim.port, "CLUSTER", "SLOTS") as [
        number,
        number,
        [string, number],
      ][];
      const range = slots.find((s) => s[2][1] === victim.port)!;
      // A key whose slot the victim owns, and one owned by another master.
      let onVictim = "", elsewhere = "";
      for (let i = 0; !onVictim || !elsewhere; i++) {
        const slot = keySlot(`k${i}`);
        if (slot >= range[0] && slot <= range[1]) onVictim ||= `k${i}`;
        else elsewhere ||= `k${i}`;
      }

      await t.step("a SIGSTOPped master: its keys fail with no answer within 500 ms", async () => {
        victim.pause();
        try {
          await assert.rejects(
            conn.call("get", onVictim, onVictim, ["GET", onVictim], text, true),
            (error: Error) => {
              assert.ok(error instanceof CacheConnectionError);
              assert.match(
                error.message,
                new RegExp(`^Cannot get key "${onVictim}": redis cluster at `),
              );
              assert.match(error.message, /no answer within 500 ms/);
              return true;
            },
          );
          // Another master's keys still work.
          assert.equal(
            await conn.call("get", elsewhere, elsewhere, ["GET", elsewhere], text, true),
            null,
          );
        } finally {
          victim.resume();
        }
      });

      await t.step("a killed master (no replica): CLUSTERDOWN on the others", async () => {
        await victim.kill();
        // The other masters mark it failed after cluster-node-timeout, then refuse every slot.
        const other = cluster.masters[1]!;
        for (let i = 0; i < 100; i++) {
          const info = String(await redisCommand(other.port, "CLUSTER", "INFO"));
          if (info.includes("cluster_state:fail")) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await assert.rejects(
          conn.call("get", elsewhere, elsewhere, ["GET", elsewhere], text, true),
          (error: Error) => {
            assert.ok(error instanceof CacheConnectionError, String(error));
            assert.match(error.message, /is unavailable \(CLUSTERDOWN /);
            return true;
          },
        );
      });
    } finally {
      await conn.close();
    }
  },
);
