// Smoke tests of the server harness: each server starts on a free loopback
// port, answers its own protocol, survives a restart on the same port, and
// is gone after stop().
import assert from "node:assert/strict";
import { type RunningServer, serverTest } from "./servers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends `request` on a new connection and reads until `done(text)` or the peer closes. */
async function exchange(
  server: RunningServer,
  request: Uint8Array,
  done: (bytes: Uint8Array) => boolean = () => false,
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  try {
    await conn.write(request);
    const chunks: number[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
      if (done(Uint8Array.from(chunks))) break;
    }
    return Uint8Array.from(chunks);
  } finally {
    conn.close();
  }
}

const text = async (server: RunningServer, request: string, end: string) =>
  decoder.decode(
    await exchange(server, encoder.encode(request), (b) => decoder.decode(b).endsWith(end)),
  );

async function refused(server: RunningServer): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: server.host, port: server.port })).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

serverTest(
  "redis-server starts on a free loopback port, restarts and stops",
  "redis",
  async (_t, [redis]) => {
    const server = redis!;
    assert.notEqual(server.port, 6379);
    assert.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await text(server, "PING\r\n", "\r\n"), "+PONG\r\n");
    assert.equal(await text(server, "SET smoke 1\r\n", "\r\n"), "+OK\r\n");
    assert.equal(await text(server, "GET smoke\r\n", "1\r\n"), "$1\r\n1\r\n");
    await server.restart();
    assert.equal(await text(server, "PING\r\n", "\r\n"), "+PONG\r\n");
    await server.stop();
    assert.equal(await refused(server), true);
  },
);

serverTest(
  "memcached starts on a free loopback port, restarts and stops",
  "memcached",
  async (_t, [mc]) => {
    const server = mc!;
    assert.notEqual(server.port, 11211);
    assert.match(await text(server, "version\r\n", "\r\n"), /^VERSION 1\.\d+\.\d+\r\n$/);
    assert.equal(await text(server, "set smoke 0 0 2\r\nok\r\n", "\r\n"), "STORED\r\n");
    assert.equal(
      await text(server, "get smoke\r\n", "END\r\n"),
      "VALUE smoke 0 2\r\nok\r\nEND\r\n",
    );
    await server.restart();
    assert.equal(await text(server, "get smoke\r\n", "END\r\n"), "END\r\n", "a restart empties it");
    await server.stop();
    assert.equal(await refused(server), true);
  },
);

/** A uwsgi cache request: modifier1 111, u16 LE size, modifier2 17, vars, then the body. */
function uwsgiPacket(vars: Record<string, string>, body = new Uint8Array()): Uint8Array {
  const parts: number[] = [];
  for (const [k, v] of Object.entries(vars)) {
    for (const s of [k, v]) {
      const b = encoder.encode(s);
      parts.push(b.length & 0xff, b.length >> 8, ...b);
    }
  }
  return Uint8Array.from([111, parts.length & 0xff, parts.length >> 8, 17, ...parts, ...body]);
}

serverTest(
  "uwsgi serves its cache on a free loopback port, restarts and stops",
  "uwsgi",
  async (_t, [uw]) => {
    const server = uw!;
    assert.match(server.url, /^uwsgi:\/\/127\.0\.0\.1:\d+\/cachelib$/);
    const value = encoder.encode("hello");
    const set = await exchange(
      server,
      uwsgiPacket({ cmd: "set", key: "smoke", cache: server.cacheName, size: "5" }, value),
    );
    assert.ok(decoder.decode(set).endsWith("status\x02\x00ok"), decoder.decode(set));
    const got = await exchange(
      server,
      uwsgiPacket({ cmd: "get", key: "smoke", cache: server.cacheName }),
    );
    assert.equal(got[0], 111);
    assert.ok(decoder.decode(got).endsWith("size\x01\x005hello"), decoder.decode(got));
    const miss = await exchange(
      server,
      uwsgiPacket({ cmd: "get", key: "absent", cache: server.cacheName }),
    );
    assert.equal(miss.length, 0, "a miss is a close without reply");
    await server.restart();
    const afterRestart = await exchange(
      server,
      uwsgiPacket({ cmd: "get", key: "smoke", cache: server.cacheName }),
    );
    assert.equal(afterRestart.length, 0, "a restart empties it");
    await server.stop();
    assert.equal(await refused(server), true);
  },
);
