// TieredCache over a real Redis Cluster (3 masters, 1 replica each) with the sharded pub/sub
// RedisBus, started once for the file: the channel lives on one shard; a second process never
// returns the old value once the message arrived; a slot migration (the server pushes
// `sunsubscribe`, the old owner answers MOVED) and a killed shard master (failover) each clear
// L1 and the bus resubscribes on the new owner (last: they change the cluster).
import assert from "node:assert/strict";
import { createCluster } from "redis";
import { runConformance } from "../testing.ts";
import {
  redisCommand,
  type Reply,
  startRedisCluster,
  topologyTest,
  waitUntil,
} from "./cluster_servers.ts";
import { type Peer, startPeer } from "./fixtures/tiered_driver.ts";
import { MemoryCache, RedisBus, RedisCache, TieredCache } from "../mod.ts";

/** The `PUBSUB SHARDNUMSUB` count of `channel` on a node. */
async function shardSubscribers(port: number, channel: string): Promise<number> {
  const reply = await redisCommand(port, "PUBSUB", "SHARDNUMSUB", channel) as Reply[];
  return Number(reply[1]);
}

topologyTest(
  "TieredCache over a Redis Cluster: sharded pub/sub across processes, through a slot migration and a failover",
  "redis-cluster",
  async (t) => {
    await using cluster = await startRedisCluster({ masters: 3, replicas: 1, nodeTimeout: 1000 });
    const channel = `test:${crypto.randomUUID()}`;
    const keyPrefix = `test:${crypto.randomUUID()}:`;
    const url = `redis+cluster://${cluster.masters.map((n) => n.address).join(",")}`;
    const l1 = new MemoryCache();
    const bus = new RedisBus({ cluster: { rootNodes: cluster.rootNodes }, channel, timeout: 1000 });
    const a = new TieredCache({
      l1,
      l2: new RedisCache({ cluster: { rootNodes: cluster.rootNodes }, keyPrefix, timeout: 1000 }),
      bus,
    });
    let peer: Peer | undefined;
    let round = 0;
    /**
     * Waits until the peer handled a message about a fresh marker key written now: a message
     * published earlier (a write retried through a failover may publish late) has arrived by then.
     */
    const settle = async () => {
      const marker = `marker:${crypto.randomUUID()}`;
      // Right after a failover the marker's slot may be served by a client still reconnecting
      // ("The client is offline", 1 run in 3): retried like the writes of `k`.
      await waitUntil("the marker's write", () => a.set(marker, 1).then(() => true), 30_000);
      await peer!.inbox.next("the marker's delivery", (l) => l.includes(`"${marker}"`));
      peer!.inbox.drain();
    };
    /**
     * After a failover: waits until a write of `k` goes through (L2 and the publisher may need a
     * moment to learn the new topology), the peer handled it, and the peer's L2 (its own cluster
     * client) reads it too — an error is no value.
     */
    const writeGoesThrough = async () => {
      await waitUntil(
        "a write to go through",
        () => a.set("k", `v${round}`).then(() => true),
        30_000,
      );
      await settle();
      await waitUntil(
        "the peer's L2 to follow",
        async () => (await peer!.get("k")) === `v${round}`,
        30_000,
      );
    };
    /** This side writes; once the peer handled the message, it reads the new value. */
    const rounds = async (count: number) => {
      for (let i = 0; i < count; i++, round++) {
        assert.equal(await peer!.get("k"), `v${round}`, `round ${round}: the peer reads`);
        assert.equal(await peer!.l1("k"), `v${round}`, `round ${round}: in the peer's L1`);
        await a.set("k", `v${round + 1}`);
        await peer!.inbox.next("delivery", (l) => l.startsWith("delivered "));
        assert.equal(await peer!.get("k"), `v${round + 1}`, `round ${round}: old value evicted`);
      }
    };
    const slot = Number(
      await redisCommand(cluster.masters[0]!.port, "CLUSTER", "KEYSLOT", channel),
    );
    const nodeOf = (address: string | undefined) =>
      cluster.nodes.find((n) => n.address === address);
    try {
      await bus.ready();
      peer = await startPeer(url, channel, keyPrefix);

      await t.step("conforms: memory over the cluster, sharded bus", async (t) => {
        await runConformance(t, {
          name: "TieredCache(memory/redis-cluster)",
          make: async ({ defaultTtl }) => {
            const bus = new RedisBus({
              cluster: { rootNodes: cluster.rootNodes },
              channel: `test:${crypto.randomUUID()}`,
            });
            const cache = new TieredCache({
              l1: new MemoryCache(),
              l2: new RedisCache({
                cluster: { rootNodes: cluster.rootNodes },
                keyPrefix: `test:${crypto.randomUUID()}:`,
                defaultTtl,
              }),
              bus,
            });
            await bus.ready();
            await cache.has("warm-up"); // connects L2 before the cases that read the clock
            return cache;
          },
          quirks: { clock: "server" },
        });
      });

      await t.step("the channel is a shard channel of the slot's master only", async () => {
        assert.equal(bus.sharded, true);
        const owner = nodeOf(bus.shard)!;
        assert.ok(owner, `subscribed on ${bus.shard}`);
        const slots = await redisCommand(owner.port, "CLUSTER", "SLOTS") as [
          number,
          number,
          [string, number],
        ][];
        assert.ok(
          slots.some(([low, high, [, port]]) => port === owner.port && slot >= low && slot <= high),
          "the owner serves the channel's slot",
        );
        for (const master of cluster.masters) {
          assert.equal(
            await shardSubscribers(master.port, channel),
            master === owner ? 2 : 0,
            `SHARDNUMSUB on ${master.address}`,
          );
          const plain = await redisCommand(master.port, "PUBSUB", "NUMSUB", channel) as Reply[];
          assert.equal(Number(plain[1]), 0, "no plain subscription");
        }
      });

      await t.step(
        "another process never returns the old value once the message arrived",
        async () => {
          await a.set("k", "v0");
          await peer!.inbox.next("delivery", (l) => l.startsWith("delivered "));
          await rounds(20);
        },
      );

      await t.step(
        "a createCluster client given as `client` carries the bus too, and stays open",
        async () => {
          const client = createCluster({ rootNodes: cluster.rootNodes });
          client.on("error", () => {});
          try {
            const given = new RedisBus({ client, channel, timeout: 1000 });
            const l1c = new MemoryCache();
            const c = new TieredCache({
              l1: l1c,
              l2: new RedisCache({ client, keyPrefix }),
              bus: given,
            });
            try {
              await given.ready();
              assert.equal(given.shard, bus.shard);
              assert.equal(await c.get("k"), `v${round}`);
              assert.equal(l1c.store.get("k"), `v${round}`);
              await a.set("k", `v${round + 1}`);
              await peer!.inbox.next("delivery", (l) => l.startsWith("delivered "));
              await waitUntil(
                "the message to reach the third cache",
                () => l1c.store.get("k") === undefined,
              );
              assert.equal(await c.get("k"), `v${round + 1}`);
              await c.set("k", `v${round + 2}`); // published on the given client
              await peer!.inbox.next("delivery", (l) => l.startsWith("delivered "));
              assert.equal(await peer!.get("k"), `v${round + 2}`);
              round += 2;
            } finally {
              await c.close();
            }
            assert.equal(client.isOpen, true, "close() left the given client open");
          } finally {
            client.destroy();
          }
        },
      );

      await t.step(
        "a slot migration: both sides clear L1 and resubscribe on the new owner",
        async () => {
          const source = nodeOf(bus.shard)!;
          const target = cluster.masters.find((m) => m !== source)!;
          assert.equal(await a.get("k"), `v${round}`);
          assert.equal(l1.store.get("k"), `v${round}`, "in this L1");
          assert.equal(await peer!.get("k"), `v${round}`);
          peer!.inbox.drain();
          await redisCommand(
            target.port,
            "CLUSTER",
            "SETSLOT",
            String(slot),
            "IMPORTING",
            source.id,
          );
          await redisCommand(
            source.port,
            "CLUSTER",
            "SETSLOT",
            String(slot),
            "MIGRATING",
            target.id,
          );
          while (true) {
            const keys = await redisCommand(
              source.port,
              "CLUSTER",
              "GETKEYSINSLOT",
              String(slot),
              "100",
            ) as string[];
            if (keys.length === 0) break;
            await redisCommand(
              source.port,
              "MIGRATE",
              target.host,
              String(target.port),
              "",
              "0",
              "5000",
              "KEYS",
              ...keys,
            );
          }
          for (
            const node of [
              target,
              source,
              ...cluster.masters.filter((m) => m !== source && m !== target),
            ]
          ) {
            await redisCommand(node.port, "CLUSTER", "SETSLOT", String(slot), "NODE", target.id);
          }
          await peer!.inbox.next("reset", (l) => l === "reset");
          await waitUntil(
            "this side to resubscribe on the new owner",
            () => bus.live && bus.shard === target.address,
            30_000,
          );
          await waitUntil("the peer to resubscribe", () => peer!.live(), 30_000);
          assert.equal(l1.store.get("k"), undefined, "this L1 was cleared");
          assert.equal(await peer!.l1("k"), null, "the peer's L1 was cleared");
          assert.equal(await shardSubscribers(target.port, channel), 2);
          assert.equal(await shardSubscribers(source.port, channel), 0);
          await rounds(5);
        },
      );

      await t.step(
        "a hung shard master: the heartbeat notices, both sides clear L1, the bus follows the failover",
        async () => {
          const victim = nodeOf(bus.shard)!;
          assert.equal(await peer!.get("k"), `v${round}`);
          assert.equal(await a.get("k"), `v${round}`);
          assert.equal(l1.store.get("k"), `v${round}`, "in this L1");
          assert.equal(await redisCommand(victim.port, "WAIT", "1", "5000"), 1);
          peer!.inbox.drain();
          victim.pause(); // its sockets stay open: only the heartbeat can tell
          try {
            await waitUntil("this side to notice", () => !bus.live, 20_000);
            assert.equal(l1.store.get("k"), undefined, "this L1 was cleared");
            await peer!.inbox.next("reset", (l) => l === "reset", 20_000);
            assert.equal(await peer!.l1("k"), null, "the peer's L1 was cleared");
            await waitUntil(
              "this side to resubscribe after the failover",
              () => bus.live && bus.shard !== victim.address,
              60_000,
            );
          } finally {
            victim.resume();
          }
          await waitUntil("the peer to resubscribe", () => peer!.live(), 30_000);
          await writeGoesThrough();
          await rounds(3);
          // the old master rejoins as the new master's replica (the next step fails over to it)
          await waitUntil("the old master to rejoin as a replica", async () => {
            const role = await redisCommand(victim.port, "ROLE") as Reply[];
            return role[0] === "slave" &&
              Number(await redisCommand(nodeOf(bus.shard)!.port, "WAIT", "1", "1000")) === 1;
          }, 30_000);
        },
      );

      await t.step(
        "a killed shard master: both sides clear L1, the bus follows the failover",
        async () => {
          const victim = nodeOf(bus.shard)!;
          assert.equal(await peer!.get("k"), `v${round}`);
          assert.equal(await a.get("k"), `v${round}`);
          assert.equal(l1.store.get("k"), `v${round}`, "in this L1");
          // the replica has every key before the master goes
          assert.equal(await redisCommand(victim.port, "WAIT", "1", "5000"), 1);
          peer!.inbox.drain();
          await victim.kill();
          await waitUntil("this side to notice", () => !bus.live, 10_000);
          assert.equal(l1.store.get("k"), undefined, "this L1 was cleared");
          await peer!.inbox.next("reset", (l) => l === "reset");
          assert.equal(await peer!.l1("k"), null, "the peer's L1 was cleared");
          await waitUntil(
            "this side to resubscribe after the failover",
            () => bus.live && bus.shard !== victim.address,
            60_000,
          );
          await waitUntil("the peer to resubscribe", () => peer!.live(), 30_000);
          const owner = nodeOf(bus.shard)!;
          assert.notEqual(owner, victim, "another node");
          assert.equal(await shardSubscribers(owner.port, channel), 2);
          await writeGoesThrough();
          await rounds(5);
        },
      );

      await peer.stop();
    } finally {
      peer?.kill();
      await a.close();
    }
  },
);
