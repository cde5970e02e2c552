/**
 * Real multi-server topologies for tests: a Redis Cluster (masters and
 * replicas), a Redis Sentinel setup (a master, its replicas and sentinels)
 * and a pool of memcached servers, all on free loopback ports. Every process
 * is started here, stopped by its own pid, and its temporary directory is
 * removed; each node can also be paused (SIGSTOP: a hung server), resumed,
 * killed (SIGKILL) and restarted on the same port.
 *
 * As with {@linkcode serverTest}, {@linkcode topologyTest} reports a test as
 * ignored with the reason when a binary is missing, and fails under `CI=true`.
 *
 * @module
 */
import { IN_CI, serverMissing, terminate } from "./servers.ts";

/** One process started by this harness. */
export interface Node {
  readonly host: "127.0.0.1";
  /** The port it listens on (kept across `restart()`). */
  readonly port: number;
  /** `"127.0.0.1:PORT"`. */
  readonly address: string;
  /** `redis://127.0.0.1:PORT` or `memcached://127.0.0.1:PORT`. */
  readonly url: string;
  /** The pid of the running process (`undefined` while stopped). */
  readonly pid: number | undefined;
  /** Suspends the process (SIGSTOP): its port accepts connections but nothing answers. */
  pause(): void;
  /** Resumes a paused process (SIGCONT). */
  resume(): void;
  /** Kills the process (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
  /** Stops the process (SIGCONT, SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same directory (a cluster node keeps its identity). */
  restart(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port; with `busOffset`, `port + busOffset` is free too (Redis Cluster's bus). */
function freePort(busOffset?: number): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (busOffset === undefined) return port;
    if (port + busOffset <= 65_535 && portIsFree(port + busOffset)) return port;
  }
  throw new Error("Cannot find a free loopback port whose cluster bus port is free too");
}

async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it returns true; throws `what` after `ms`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}`, { cause: last });
}

class ProcessNode implements Node {
  readonly host = "127.0.0.1" as const;
  readonly port: number;
  readonly address: string;
  readonly url: string;
  readonly dir: string;
  #child: Deno.ChildProcess | undefined;
  #binary: string;
  #args: (port: number, dir: string) => string[];

  constructor(
    scheme: string,
    binary: string,
    args: (port: number, dir: string) => string[],
    port: number,
  ) {
    this.#binary = binary;
    this.#args = args;
    this.port = port;
    this.address = `127.0.0.1:${port}`;
    this.url = `${scheme}://${this.address}`;
    this.dir = Deno.makeTempDirSync({ prefix: "cachelib-node-" });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    const child = new Deno.Command(this.#binary, {
      args: this.#args(this.port, this.dir),
      cwd: this.dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    let exited = false;
    child.status.then(() => (exited = true));
    try {
      await waitUntil(`${this.#binary} to listen on ${this.address}`, async () => {
        if (exited) throw new Error(`${this.#binary} on ${this.address} exited`);
        return await accepts(this.port);
      }, 10_000);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  #signal(signal: Deno.Signal): void {
    const child = this.#child;
    if (!child) throw new Error(`${this.address} is not running`);
    child.kill(signal);
  }

  pause(): void {
    this.#signal("SIGSTOP");
  }

  resume(): void {
    this.#signal("SIGCONT");
  }

  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    await terminate(child);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the process and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Starts a node on a fresh free port, trying three ports before giving up. */
async function launch(
  scheme: string,
  binary: string,
  args: (port: number, dir: string) => string[],
  busOffset?: number,
): Promise<ProcessNode> {
  for (let attempt = 1;; attempt++) {
    const node = new ProcessNode(scheme, binary, args, freePort(busOffset));
    try {
      await node.start();
      return node;
    } catch (error) {
      await node.dispose();
      if (attempt >= 3) throw error;
    }
  }
}

/** Starts every node in parallel; on any failure stops those that started. */
async function launchAll(
  count: number,
  start: () => Promise<ProcessNode>,
): Promise<ProcessNode[]> {
  const results = await Promise.allSettled(Array.from({ length: count }, start));
  const nodes = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.all(nodes.map((n) => n.dispose()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return nodes;
}

// ---------------------------------------------------------------- RESP

/** A RESP2 reply: a simple or bulk string, an integer, null, an array, or an error reply. */
export type Reply = string | number | null | Reply[] | Error;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeCommand(args: readonly string[]): Uint8Array {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${encoder.encode(arg).length}\r\n${arg}\r\n`);
  return encoder.encode(parts.join(""));
}

/** Parses one reply at `at`; `undefined` when the bytes are incomplete. */
function parseReply(bytes: Uint8Array, at: number): [Reply, number] | undefined {
  const lineEnd = bytes.indexOf(0x0a, at);
  if (lineEnd === -1) return undefined;
  const line = decoder.decode(bytes.subarray(at + 1, lineEnd - 1));
  const next = lineEnd + 1;
  switch (bytes[at]) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new Error(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: { // $
      const length = Number(line);
      if (length < 0) return [null, next];
      if (bytes.length < next + length + 2) return undefined;
      return [decoder.decode(bytes.subarray(next, next + length)), next + length + 2];
    }
    case 0x2a: { // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let offset = next;
      for (let i = 0; i < count; i++) {
        const parsed = parseReply(bytes, offset);
        if (!parsed) return undefined;
        items.push(parsed[0]);
        offset = parsed[1];
      }
      return [items, offset];
    }
    default:
      throw new Error(`Unexpected RESP byte ${bytes[at]} in ${decoder.decode(bytes)}`);
  }
}

/**
 * Sends `commands` pipelined on one new connection to a Redis server (or
 * sentinel) and returns their replies in order; error replies come back as
 * `Error` values. Gives up after `ms` (default 5 s).
 *
 * @example
 * ```ts ignore
 * const [pong, slot] = await redisCommands(port, [["PING"], ["CLUSTER", "KEYSLOT", "foo"]]);
 * ```
 */
export async function redisCommands(
  port: number,
  commands: readonly (readonly string[])[],
  ms = 5_000,
): Promise<Reply[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), ms);
  try {
    const out = new Uint8Array(commands.reduce((n, c) => n + encodeCommand(c).length, 0));
    let offset = 0;
    for (const command of commands) {
      const bytes = encodeCommand(command);
      out.set(bytes, offset);
      offset += bytes.length;
    }
    let written = 0;
    while (written < out.length) written += await conn.write(out.subarray(written));
    let buffer = new Uint8Array(0);
    const replies: Reply[] = [];
    let at = 0;
    const chunk = new Uint8Array(65_536);
    while (replies.length < commands.length) {
      const parsed = at < buffer.length ? parseReply(buffer, at) : undefined;
      if (parsed) {
        replies.push(parsed[0]);
        at = parsed[1];
        continue;
      }
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) {
        throw new Error(`127.0.0.1:${port} closed the connection (or ${ms} ms passed)`);
      }
      const grown = new Uint8Array(buffer.length + n);
      grown.set(buffer);
      grown.set(chunk.subarray(0, n), buffer.length);
      buffer = grown;
    }
    return replies;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** Sends one command; an error reply is thrown. */
export async function redisCommand(port: number, ...args: string[]): Promise<Reply> {
  const [reply] = await redisCommands(port, [args]);
  if (reply instanceof Error) throw reply;
  return reply!;
}

/** `INFO`-style text (`a:b` lines) as a record. */
function infoFields(text: Reply): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of String(text).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

const redisArgs = (extra: string[]) => (port: number, dir: string) => [
  "--port",
  String(port),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  "--daemonize",
  "no",
  "--loglevel",
  "warning",
  "--dir",
  dir,
  ...extra,
];

// ---------------------------------------------------------------- Redis Cluster

/** A node of a {@linkcode RedisClusterSetup}. */
export interface ClusterNode extends Node {
  /** The role it had when the cluster came up. */
  readonly role: "master" | "replica";
  /** The node id from `CLUSTER MYID`. */
  readonly id: string;
}

/** A Redis Cluster started by {@linkcode startRedisCluster}. */
export interface RedisClusterSetup {
  /** Every node, masters first. */
  readonly nodes: readonly ClusterNode[];
  /** The nodes that were masters when the cluster came up. */
  readonly masters: readonly ClusterNode[];
  /** The nodes that were replicas when the cluster came up. */
  readonly replicas: readonly ClusterNode[];
  /** node-redis `createCluster` root nodes: `[{ url }]` of every master. */
  readonly rootNodes: { url: string }[];
  /** Resolves when every running node reports `cluster_state:ok` (bounded by `ms`). */
  waitForOk(ms?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** How to shape a cluster. */
export interface RedisClusterOptions {
  /** Masters (default 3, at least 3 as `redis-cli --cluster create` requires). */
  masters?: number;
  /** Replicas per master (default 0). */
  replicas?: number;
  /** `cluster-node-timeout` in ms: how long until a silent node is failed (default 2000). */
  nodeTimeout?: number;
}

/** Why a cluster or sentinel setup cannot start here (`undefined` when it can). */
export function redisToolsMissing(): string | undefined {
  const server = serverMissing("redis");
  if (server) return server;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(`${dir}/redis-cli`).isFile) return undefined;
    } catch {
      // not here
    }
  }
  return "redis-cli is not installed (apt-get install redis-tools)";
}

async function clusterOk(node: ProcessNode, expectedNodes: number): Promise<boolean> {
  const info = infoFields(await redisCommand(node.port, "CLUSTER", "INFO"));
  return info.cluster_state === "ok" && Number(info.cluster_known_nodes) === expectedNodes &&
    Number(info.cluster_slots_ok) === 16_384;
}

/**
 * Starts a Redis Cluster on free loopback ports (each bus port, port + 10 000,
 * free too), creates it with `redis-cli --cluster create`, and waits — at most
 * 60 s — until every node reports `cluster_state:ok`, knows every other node,
 * and every replica's link to its master is up.
 *
 * @example
 * ```ts ignore
 * await using cluster = await startRedisCluster({ masters: 3, replicas: 1 });
 * const client = createCluster({ rootNodes: cluster.rootNodes });
 * ```
 */
export async function startRedisCluster(
  options: RedisClusterOptions = {},
): Promise<RedisClusterSetup> {
  const missing = redisToolsMissing();
  if (missing) throw new Error(`Cannot start a Redis Cluster: ${missing}`);
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new RangeError(`A Redis Cluster needs at least 3 masters, received ${masters}`);
  }
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new RangeError(`replicas must be an integer >= 0, received ${replicas}`);
  }
  const total = masters * (1 + replicas);
  const args = redisArgs([
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    String(options.nodeTimeout ?? 2000),
  ]);
  const processes = await launchAll(total, () => launch("redis", "redis-server", args, 10_000));
  const stopAll = () => Promise.all(processes.map((n) => n.dispose())).then(() => {});
  try {
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...processes.map((n) => n.address),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!create.success) {
      throw new Error(
        `redis-cli --cluster create failed: ${decoder.decode(create.stdout)}${
          decoder.decode(create.stderr)
        }`,
      );
    }
    const waitForOk = (ms = 60_000) =>
      waitUntil(
        "cluster_state:ok on every node",
        async () => (await Promise.all(processes.map((n) => clusterOk(n, total)))).every(Boolean),
        ms,
      );
    await waitForOk();
    const nodes: ClusterNode[] = [];
    for (const node of processes) {
      const id = String(await redisCommand(node.port, "CLUSTER", "MYID"));
      const role = (await redisCommand(node.port, "ROLE") as Reply[])[0];
      nodes.push(Object.assign(node, {
        id,
        role: role === "master" ? "master" as const : "replica" as const,
      }));
    }
    const masterNodes = nodes.filter((n) => n.role === "master");
    const replicaNodes = nodes.filter((n) => n.role === "replica");
    if (masterNodes.length !== masters || replicaNodes.length !== masters * replicas) {
      throw new Error(
        `Expected ${masters} masters and ${
          masters * replicas
        } replicas, found ${masterNodes.length} and ${replicaNodes.length}`,
      );
    }
    await waitUntil("every replica's master link to be up", async () => {
      for (const replica of replicaNodes) {
        const info = infoFields(await redisCommand(replica.port, "INFO", "replication"));
        if (info.master_link_status !== "up") return false;
      }
      return true;
    }, 60_000);
    return {
      nodes: [...masterNodes, ...replicaNodes],
      masters: masterNodes,
      replicas: replicaNodes,
      rootNodes: masterNodes.map((n) => ({ url: n.url })),
      waitForOk: (ms?: number) =>
        waitUntil("cluster_state:ok on every running node", async () => {
          const running = processes.filter((n) => n.pid !== undefined);
          return (await Promise.all(running.map((n) => clusterOk(n, total)))).every(Boolean);
        }, ms ?? 60_000),
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

// ---------------------------------------------------------------- Redis Sentinel

/** A Redis Sentinel setup started by {@linkcode startSentinel}. */
export interface SentinelSetup {
  /** The monitored master's name (default `"mymaster"`). */
  readonly name: string;
  /** The master when the setup came up. */
  readonly master: Node;
  /** Its replicas. */
  readonly replicas: readonly Node[];
  /** The sentinels. */
  readonly sentinels: readonly Node[];
  /** node-redis `createSentinel` root nodes: `[{ host, port }]` of every sentinel. */
  readonly sentinelRootNodes: { host: string; port: number }[];
  /** `"host:port"` of the master the first running sentinel names now. */
  currentMaster(): Promise<string>;
  /**
   * Waits (bounded by `ms`, default 30 s) until the sentinels name a master
   * other than `old` and that node answers `ROLE` as master; resolves to its
   * `"host:port"`.
   */
  waitForFailover(old: string, ms?: number): Promise<string>;
  /** Stops every process and removes their directories. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** How to shape a sentinel setup. */
export interface SentinelOptions {
  /** The master's name (default `"mymaster"`). */
  name?: string;
  /** Sentinels (1–3, default 3). */
  sentinels?: number;
  /** Sentinels that must agree the master is down (default a majority). */
  quorum?: number;
  /** Replicas of the master (default 1). */
  replicas?: number;
  /** `down-after-milliseconds` (default 1000). */
  downAfter?: number;
  /** `failover-timeout` in ms (default 5000). */
  failoverTimeout?: number;
}

/**
 * Starts a master, its replicas and sentinels monitoring it, on free loopback
 * ports, and waits — at most 30 s — until every replica's link is up and
 * every sentinel names the master, sees its replicas and the other sentinels.
 *
 * @example
 * ```ts ignore
 * await using setup = await startSentinel({ sentinels: 3, quorum: 2 });
 * const client = createSentinel({ name: setup.name, sentinelRootNodes: setup.sentinelRootNodes });
 * ```
 */
export async function startSentinel(options: SentinelOptions = {}): Promise<SentinelSetup> {
  const missing = redisToolsMissing();
  if (missing) throw new Error(`Cannot start Redis Sentinel: ${missing}`);
  const name = options.name ?? "mymaster";
  const sentinelCount = options.sentinels ?? 3;
  const quorum = options.quorum ?? Math.floor(sentinelCount / 2) + 1;
  const replicaCount = options.replicas ?? 1;
  if (!Number.isInteger(sentinelCount) || sentinelCount < 1 || sentinelCount > 3) {
    throw new RangeError(`sentinels must be 1, 2 or 3, received ${sentinelCount}`);
  }
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > sentinelCount) {
    throw new RangeError(`quorum must be 1..${sentinelCount}, received ${quorum}`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new TypeError(`Invalid master name "${name}"`);
  const started: ProcessNode[] = [];
  const stopAll = async () => {
    // Sentinels first, so they do not start a failover while the data nodes stop.
    for (const node of [...started].reverse()) await node.dispose();
  };
  try {
    const master = await launch("redis", "redis-server", redisArgs([]));
    started.push(master);
    const replicas = await launchAll(
      replicaCount,
      () =>
        launch("redis", "redis-server", redisArgs(["--replicaof", "127.0.0.1", `${master.port}`])),
    );
    started.push(...replicas);
    await waitUntil("every replica's master link to be up", async () => {
      for (const replica of replicas) {
        const info = infoFields(await redisCommand(replica.port, "INFO", "replication"));
        if (info.master_link_status !== "up") return false;
      }
      return true;
    });
    const sentinelArgs = (port: number, dir: string) => {
      const config = `${dir}/sentinel.conf`;
      Deno.writeTextFileSync(
        config,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${options.downAfter ?? 1000}`,
          `sentinel failover-timeout ${name} ${options.failoverTimeout ?? 5000}`,
          `sentinel parallel-syncs ${name} 1`,
          "",
        ].join("\n"),
      );
      return [config, "--sentinel", "--daemonize", "no", "--loglevel", "warning"];
    };
    const sentinels = await launchAll(
      sentinelCount,
      () => launch("redis", "redis-server", sentinelArgs),
    );
    started.push(...sentinels);
    await waitUntil("every sentinel to see the master, its replicas and the others", async () => {
      for (const sentinel of sentinels) {
        const fields = await redisCommand(sentinel.port, "SENTINEL", "MASTER", name) as string[];
        const master: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) master[fields[i]!] = fields[i + 1]!;
        if (
          master.flags !== "master" || Number(master["num-slaves"]) !== replicaCount ||
          Number(master["num-other-sentinels"]) !== sentinelCount - 1
        ) return false;
      }
      return true;
    });
    const currentMaster = async () => {
      const sentinel = sentinels.find((s) => s.pid !== undefined);
      if (!sentinel) throw new Error("No sentinel is running");
      const [host, port] = await redisCommand(
        sentinel.port,
        "SENTINEL",
        "GET-MASTER-ADDR-BY-NAME",
        name,
      ) as string[];
      return `${host}:${port}`;
    };
    return {
      name,
      master,
      replicas,
      sentinels,
      sentinelRootNodes: sentinels.map((s) => ({ host: s.host, port: s.port })),
      currentMaster,
      waitForFailover: async (old: string, ms = 30_000) => {
        let address = old;
        await waitUntil(`the sentinels to promote a master other than ${old}`, async () => {
          address = await currentMaster();
          if (address === old) return false;
          const port = Number(address.slice(address.lastIndexOf(":") + 1));
          return (await redisCommand(port, "ROLE") as Reply[])[0] === "master";
        }, ms);
        return address;
      },
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

// ---------------------------------------------------------------- memcached

/** Several memcached servers started by {@linkcode startMemcachedPool}. */
export interface MemcachedPool {
  /** The servers, in start order. */
  readonly servers: readonly Node[];
  /** `"127.0.0.1:PORT"` of every server, as memjs and the ring take them. */
  readonly addresses: string[];
  /** Stops every server and removes their directories. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `count` memcached servers on free loopback ports.
 *
 * @example
 * ```ts ignore
 * await using pool = await startMemcachedPool(3);
 * pool.servers[1]!.pause(); // a hung server
 * ```
 */
export async function startMemcachedPool(count: number): Promise<MemcachedPool> {
  const missing = serverMissing("memcached");
  if (missing) throw new Error(`Cannot start memcached: ${missing}`);
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`count must be an integer >= 1, received ${count}`);
  }
  const args = (port: number) => [
    "-l",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    "0",
    "-m",
    "64",
    ...(Deno.uid() === 0 ? ["-u", "root"] : []),
  ];
  const servers = await launchAll(count, () => launch("memcached", "memcached", args));
  const stopAll = () => Promise.all(servers.map((s) => s.dispose())).then(() => {});
  return {
    servers,
    addresses: servers.map((s) => s.address),
    stop: stopAll,
    [Symbol.asyncDispose]: stopAll,
  };
}

// ---------------------------------------------------------------- tests

/** What a {@linkcode topologyTest} needs. */
export type Topology = "redis-cluster" | "redis-sentinel" | "memcached";

/**
 * Registers a test that needs one of these topologies: ignored with the
 * reason when a binary is missing, failing when it is missing and `CI=true`.
 * The test starts (and stops) its topology itself.
 */
export function topologyTest(
  name: string,
  needs: Topology,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  const missing = needs === "memcached" ? serverMissing("memcached") : redisToolsMissing();
  const skip = missing !== undefined && !IN_CI;
  Deno.test({
    name: skip ? `${name} (ignored: ${missing})` : name,
    ignore: skip,
    fn: async (t) => {
      if (missing) throw new Error(`CI=true but ${missing}`);
      await fn(t);
    },
  });
}
