import assert from "node:assert/strict";
import { runConformance } from "./conformance.ts";
import { CacheError, FileSystemCache } from "../mod.ts";

Deno.test("FileSystemCache conforms", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "fs_conformance_" });
  try {
    await runConformance(t, {
      name: "FileSystemCache",
      make: ({ defaultTtl, now }) =>
        new FileSystemCache({ dir: `${root}/${crypto.randomUUID()}`, defaultTtl, now }),
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
