// Smoke tests of the multi-server harness: a Redis Cluster, a Sentinel setup
// and a memcached pool come up on free loopback ports, answer, can be paused
// and resumed, and leave no process and no directory behind after stop().
import assert from "node:assert/strict";
import {
  type Node,
  redisCommand,
  redisCommands,
  startMemcachedPool,
  startRedisCluster,
  startSentinel,
  topologyTest,
} from "./cluster_servers.ts";

/** Whether process `pid` is gone (its /proc entry removed, so also reaped). */
function gone(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}

/** Records pids and directories now, to check after stop() that all are gone. */
function snapshot(nodes: readonly Node[]): () => void {
  const pids = nodes.map((n) => n.pid!);
  const dirs = nodes.map((n) => (n as Node & { dir: string }).dir);
  for (const pid of pids) assert.equal(typeof pid, "number");
  return () => {
    for (const pid of pids) assert.ok(gone(pid), `process ${pid} still runs after stop()`);
    for (const dir of dirs) {
      assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound, `${dir} left behind`);
    }
    for (const node of nodes) assert.equal(node.pid, undefined);
  };
}

/** Whether a PING gets no answer within `ms` (a paused server). */
async function silent(port: number, ms = 300): Promise<boolean> {
  return await redisCommands(port, [["PING"]], ms).then(() => false, () => true);
}

topologyTest(
  "startRedisCluster() makes 3 masters serving every slot, and stop() leaves nothing behind",
  "redis-cluster",
  async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    const after = snapshot(cluster.nodes);
    try {
      assert.equal(cluster.masters.length, 3);
      assert.equal(cluster.replicas.length, 0);
      assert.deepEqual(cluster.rootNodes, cluster.masters.map((n) => ({ url: n.url })));
      for (const node of cluster.nodes) {
        assert.match(node.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(node.role, "master");
        assert.match(node.id, /^[0-9a-f]{40}$/);
        const info = String(await redisCommand(node.port, "CLUSTER", "INFO"));
        assert.match(info, /cluster_state:ok/);
        assert.match(info, /cluster_slots_assigned:16384/);
        assert.match(info, /cluster_known_nodes:3/);
      }
      // Every master owns a share of the slots.
      const shards = await redisCommand(cluster.masters[0]!.port, "CLUSTER", "SLOTS") as string[][];
      const owners = new Set(shards.map((s) => (s[2] as unknown as [string, number])[1]));
      assert.deepEqual([...owners].sort(), cluster.masters.map((n) => n.port).sort());
    } finally {
      await cluster.stop();
    }
    after();
  },
);

topologyTest(
  "startRedisCluster() with a replica per master: roles, a paused node, a killed node",
  "redis-cluster",
  async (t) => {
    const cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    const after = snapshot(cluster.nodes);
    try {
      assert.equal(cluster.masters.length, 3);
      assert.equal(cluster.replicas.length, 3);
      const masterIds = new Set(cluster.masters.map((n) => n.id));
      for (const replica of cluster.replicas) {
        const role = await redisCommand(replica.port, "ROLE") as [string, string, number];
        assert.equal(role[0], "slave");
        assert.ok(cluster.masters.some((m) => m.port === role[2]), "replicates one of the masters");
        const myself = String(await redisCommand(replica.port, "CLUSTER", "NODES"))
          .split("\n").find((line) => line.includes("myself"))!.split(" ");
        assert.ok(masterIds.has(myself[3]!), "CLUSTER NODES names its master");
      }
      await t.step("a paused node accepts connections but does not answer", async () => {
        const node = cluster.replicas[0]!;
        node.pause();
        try {
          assert.equal(await silent(node.port), true);
        } finally {
          node.resume();
        }
        assert.equal(await redisCommand(node.port, "PING"), "PONG");
      });
      await t.step("a killed node refuses connections and restarts with its identity", async () => {
        const node = cluster.replicas[1]!;
        await node.kill();
        assert.equal(node.pid, undefined);
        await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: node.port }));
        await node.restart();
        assert.equal(await redisCommand(node.port, "CLUSTER", "MYID"), node.id);
        await cluster.waitForOk();
      });
    } finally {
      await cluster.stop();
    }
    after();
  },
);

topologyTest(
  "startSentinel() makes sentinels that agree on the master and fail over, and stop() leaves nothing",
  "redis-sentinel",
  async () => {
    const setup = await startSentinel({ sentinels: 3, quorum: 2 });
    const after = snapshot([setup.master, ...setup.replicas, ...setup.sentinels]);
    try {
      assert.equal(setup.name, "mymaster");
      assert.equal(setup.replicas.length, 1);
      assert.equal(setup.sentinels.length, 3);
      assert.deepEqual(
        setup.sentinelRootNodes,
        setup.sentinels.map((s) => ({ host: "127.0.0.1", port: s.port })),
      );
      assert.equal(await setup.currentMaster(), setup.master.address);
      for (const sentinel of setup.sentinels) {
        const addr = await redisCommand(
          sentinel.port,
          "SENTINEL",
          "GET-MASTER-ADDR-BY-NAME",
          "mymaster",
        );
        assert.deepEqual(addr, ["127.0.0.1", String(setup.master.port)]);
      }
      const role = await redisCommand(setup.replicas[0]!.port, "ROLE") as [string, string, number];
      assert.deepEqual(role.slice(0, 3), ["slave", "127.0.0.1", setup.master.port]);

      // A failover: the master dies, the sentinels promote the replica.
      await setup.master.kill();
      const promoted = await setup.waitForFailover(setup.master.address);
      assert.equal(promoted, setup.replicas[0]!.address);
    } finally {
      await setup.stop();
    }
    after();
  },
);

/** Sends a memcached text command and reads one line. */
async function memcachedLine(port: number, command: string, ms = 2000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), ms);
  try {
    await conn.write(new TextEncoder().encode(command));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf).catch(() => null);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

topologyTest(
  "startMemcachedPool(3) starts three servers that can hang and recover, and stop() leaves nothing",
  "memcached",
  async () => {
    const pool = await startMemcachedPool(3);
    const after = snapshot(pool.servers);
    try {
      assert.equal(pool.servers.length, 3);
      assert.equal(new Set(pool.addresses).size, 3);
      for (const server of pool.servers) {
        assert.match(server.url, /^memcached:\/\/127\.0\.0\.1:\d+$/);
        assert.match(await memcachedLine(server.port, "version\r\n"), /^VERSION 1\.\d+\.\d+\r\n$/);
      }
      const hung = pool.servers[1]!;
      hung.pause();
      try {
        assert.equal(await memcachedLine(hung.port, "version\r\n", 300), "");
      } finally {
        hung.resume();
      }
      assert.match(await memcachedLine(hung.port, "version\r\n"), /^VERSION /);
    } finally {
      await pool.stop();
    }
    after();
  },
);
