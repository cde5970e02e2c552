import assert from "node:assert/strict";
import { type Cache, DenoKvCache, MemoryCache } from "../mod.ts";
import { countPrimes, createHandler } from "../examples/deploy_handler.ts";

async function checkHandler(cache: Cache): Promise<void> {
  const handle = createHandler(cache);
  const ask = (path: string, method = "GET") =>
    handle(new Request(`http://localhost${path}`, { method }));

  const first = await ask("/primes?below=100000");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-cache"), "MISS");
  assert.deepStrictEqual(await first.json(), { below: 100_000, primes: 9592 });
  const second = await ask("/primes?below=100000");
  assert.equal(second.headers.get("x-cache"), "HIT");
  assert.deepStrictEqual(await second.json(), { below: 100_000, primes: 9592 });
  assert.equal((await ask("/primes?below=10")).headers.get("x-cache"), "MISS");

  const stats = await (await ask("/stats")).json();
  assert.equal(stats.hits, 1);
  assert.equal(stats.sets, 2);
  for (const bad of ["/primes", "/primes?below=-1", "/primes?below=1.5", "/primes?below=x"]) {
    const response = await ask(bad);
    assert.equal(response.status, 400, bad);
    assert.match(await response.text(), /below must be an integer/);
  }
  const missing = await ask("/nope");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const post = await ask("/primes?below=10", "POST");
  assert.equal(post.status, 405);
  await post.body?.cancel();
}

Deno.test("the deploy example counts primes correctly", () => {
  assert.deepStrictEqual([0, 2, 3, 10, 100].map(countPrimes), [0, 0, 1, 4, 25]);
});

Deno.test("the deploy example handler caches through MemoryCache", async () => {
  await using cache = new MemoryCache();
  await checkHandler(cache);
});

Deno.test("the deploy example handler caches through DenoKvCache", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_deploy_" });
  try {
    await using cache = new DenoKvCache({ path: `${dir}/kv.sqlite3` });
    await checkHandler(cache);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
