import assert from "node:assert/strict";
import { createHandler, makeTieredCache } from "../examples/deploy_tiered.ts";

Deno.test("the tiered deploy example: a PUT on one isolate is seen by another's GET", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_deploy_tiered_" });
  const a = makeTieredCache(`${dir}/kv.sqlite3`);
  const b = makeTieredCache(`${dir}/kv.sqlite3`);
  try {
    const ask = async (cache: typeof a, path: string, method = "GET", body?: string) => {
      const response = await createHandler(cache)(
        new Request(`http://localhost${path}`, { method, body: body ?? null }),
      );
      return { status: response.status, text: await response.text() };
    };
    assert.deepEqual(await ask(b, "/items/1"), { status: 404, text: "no such item" });
    assert.equal((await ask(a, "/items/1", "PUT", "Ada")).status, 204);
    assert.deepEqual(await ask(b, "/items/1"), { status: 200, text: "Ada" }); // now in b's L1
    assert.equal((await ask(a, "/items/1", "PUT", "Grace")).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the bus message arrives
    assert.deepEqual(await ask(b, "/items/1"), { status: 200, text: "Grace" });
    assert.equal((await ask(a, "/items/1", "DELETE")).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await ask(b, "/items/1"), { status: 404, text: "no such item" });
    assert.equal((await ask(b, "/items/1", "POST")).status, 405);
    assert.equal((await ask(b, "/nope")).status, 404);
    assert.equal(JSON.parse((await ask(b, "/stats")).text).hits, 2);
  } finally {
    await b.close();
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
