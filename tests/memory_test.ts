import { runConformance } from "./conformance.ts";
import { MemoryCache, NullCache } from "../mod.ts";

Deno.test("NullCache conforms (stores nothing)", async (t) => {
  await runConformance(t, {
    name: "NullCache",
    make: ({ defaultTtl }) => new NullCache({ defaultTtl }),
    quirks: { stores: false },
  });
});

Deno.test("MemoryCache conforms", async (t) => {
  await runConformance(t, {
    name: "MemoryCache",
    make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now }),
  });
});

Deno.test("MemoryCache conforms with clone: false except for copies", async (t) => {
  await runConformance(t, {
    name: "MemoryCache(clone: false)",
    make: ({ defaultTtl, now }) => new MemoryCache({ defaultTtl, now, clone: false }),
    skip: [{
      reason: "clone: false stores references by design",
      cases: [
        "a value read back is a copy, not an alias",
        "values that cannot be stored are typed errors naming the key",
      ],
    }],
  });
});
