/**
 * Real servers for tests: starts `redis-server`, `memcached` or `uwsgi` (with
 * its cache plugin) on a free loopback port for the duration of a test, waits
 * until it accepts connections, and stops it by its own process.
 *
 * When a binary is missing, {@linkcode serverTest} reports the test as ignored
 * with the reason; with `CI=true` the test runs and fails instead.
 *
 * @module
 */

/** The servers this harness can start. */
export type ServerKind = "redis" | "memcached" | "uwsgi";

/** Extra settings for one server. */
export interface ServerOptions {
  /** uWSGI: the cache name (default `"cachelib"`). */
  cacheName?: string;
  /** uWSGI: the number of items (default 1000). */
  items?: number;
  /** uWSGI: the block size in bytes, the largest value (default 65 536). */
  blocksize?: number;
  /** memcached: the largest item, e.g. `"1m"` (default memcached's 1 MB). */
  maxItemSize?: string;
}

/** A server started by {@linkcode startServer}. */
export interface RunningServer {
  readonly kind: ServerKind;
  readonly host: "127.0.0.1";
  /** The port it listens on (kept across `restart()`). */
  readonly port: number;
  /** `"127.0.0.1:PORT"`. */
  readonly address: string;
  /** `redis://127.0.0.1:PORT`, `memcached://…` or `uwsgi://…/CACHE`. */
  readonly url: string;
  /** The uWSGI cache name (uwsgi only). */
  readonly cacheName: string;
  /** Stops the process (SIGTERM, then SIGKILL after 3 s) and waits until its port is closed. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const BINARIES: Record<ServerKind, string> = {
  redis: "redis-server",
  memcached: "memcached",
  uwsgi: "uwsgi",
};

/** Whether `CI=true`: then a missing server fails the test instead of skipping it. */
export const IN_CI = Deno.env.get("CI") === "true";

function which(binary: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const path = `${dir}/${binary}`;
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Why `kind` cannot run here (`undefined` when it can). */
export function serverMissing(kind: ServerKind): string | undefined {
  const binary = BINARIES[kind];
  return which(binary)
    ? undefined
    : `${binary} is not installed (apt-get install ${
      kind === "redis" ? "redis-server" : kind === "uwsgi" ? "uwsgi-core" : "memcached"
    })`;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function args(kind: ServerKind, port: number, options: ServerOptions): string[] {
  switch (kind) {
    case "redis":
      return [
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
        Deno.makeTempDirSync(),
      ];
    case "memcached":
      return [
        "-l",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "0",
        "-m",
        "64",
        ...(options.maxItemSize ? ["-I", options.maxItemSize] : []),
        ...(Deno.uid() === 0 ? ["-u", "root"] : []),
      ];
    case "uwsgi":
      return [
        "--plugin",
        "cache",
        "--master",
        "--socket",
        `127.0.0.1:${port}`,
        "--cache2",
        `name=${options.cacheName ?? "cachelib"},items=${options.items ?? 1000},blocksize=${
          options.blocksize ?? 65536
        }`,
        "--die-on-term",
        "--disable-logging",
      ];
  }
}

async function waitForPort(port: number, child: Deno.ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} exited before it listened on port ${port}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(`${what} did not listen on port ${port} within 10 s`);
}

async function waitForClosed(port: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`port ${port} still accepts connections 5 s after its server stopped`);
}

/**
 * Starts a server on a free loopback port and waits until it accepts
 * connections. Throws when the binary is missing.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 *
 * await using redis = await startServer("redis");
 * assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/); // e.g. redis://127.0.0.1:40123
 * ```
 */
export async function startServer(
  kind: ServerKind,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const missing = serverMissing(kind);
  if (missing) throw new Error(`Cannot start ${kind}: ${missing}`);
  const binary = BINARIES[kind];
  let port = 0;
  let child: Deno.ChildProcess | undefined;

  const launch = async () => {
    child = new Deno.Command(binary, {
      args: args(kind, port, options),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port, child, `${binary} on port ${port}`);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running) return;
    await terminate(running);
    // uWSGI's workers can outlive the master for a moment: wait until the port is free.
    await waitForClosed(port);
  };

  for (let attempt = 1;; attempt++) {
    port = freePort();
    try {
      await launch();
      break;
    } catch (error) {
      await stop();
      if (attempt >= 3) throw error;
    }
  }

  const cacheName = options.cacheName ?? "cachelib";
  const address = `127.0.0.1:${port}`;
  return {
    kind,
    host: "127.0.0.1",
    port,
    address,
    cacheName,
    url: kind === "uwsgi" ? `uwsgi://${address}/${cacheName}` : `${kind}://${address}`,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Registers a test that needs real servers: ignored with the reason when a
 * binary is missing, failing when it is missing and `CI=true`. The servers
 * are started before `fn` and stopped after it, whatever happens.
 */
export function serverTest(
  name: string,
  kinds: ServerKind | ServerKind[] | { kind: ServerKind; options?: ServerOptions }[],
  fn: (t: Deno.TestContext, servers: RunningServer[]) => Promise<void>,
): void {
  const specs = (Array.isArray(kinds) ? kinds : [kinds]).map((k) =>
    typeof k === "string" ? { kind: k, options: {} } : { kind: k.kind, options: k.options ?? {} }
  );
  const missing = [...new Set(specs.map((s) => serverMissing(s.kind)).filter(Boolean))];
  const skip = missing.length > 0 && !IN_CI;
  Deno.test({
    name: skip ? `${name} (ignored: ${missing.join("; ")})` : name,
    ignore: skip,
    fn: async (t) => {
      if (missing.length > 0) throw new Error(`CI=true but ${missing.join("; ")}`);
      const servers: RunningServer[] = [];
      try {
        for (const spec of specs) servers.push(await startServer(spec.kind, spec.options));
        await fn(t, servers);
      } finally {
        for (const server of servers) await server.stop();
      }
    },
  });
}

/**
 * Sends SIGSTOP to `child` and waits (at most 2 s) until the kernel reports it stopped, so a
 * request sent next cannot be served by a thread that had not yet been stopped.
 */
export async function pauseProcess(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGSTOP");
  for (let i = 0; i < 200; i++) {
    const stat = await Deno.readTextFile(`/proc/${child.pid}/stat`).catch(() => "");
    // pid (comm) STATE …: the state follows the last ")"
    if (/^[tT]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3))) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`process ${child.pid} did not stop within 2 s of SIGSTOP`);
}

/**
 * Stops `child` by its own pid: SIGCONT (a paused process cannot die of SIGTERM), SIGTERM, then
 * SIGKILL if it is still running 3 s later; resolves once it has exited.
 */
export async function terminate(child: Deno.ChildProcess): Promise<void> {
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  send("SIGCONT");
  send("SIGTERM");
  const timer = setTimeout(() => send("SIGKILL"), 3000);
  await child.status;
  clearTimeout(timer);
}
