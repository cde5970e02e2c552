import assert from "node:assert/strict";
import { runConformance } from "./conformance.ts";
import { CacheError, DenoKvCache } from "../mod.ts";

/** Runs `fn` with a fresh KV file in a temp directory, removed afterwards. */
async function withTempKv(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cachelib_kv_" });
  try {
    await fn(`${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("DenoKvCache conforms on a temp-file KV", async (t) => {
  await withTempKv(async (path) => {
    await runConformance(t, {
      name: "DenoKvCache",
      make: ({ defaultTtl, now }) =>
        new DenoKvCache({ path, prefix: ["test", crypto.randomUUID()], defaultTtl, now }),
    });
  });
});
