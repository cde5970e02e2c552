import assert from "node:assert/strict";
import { runConformance } from "./conformance.ts";
import { serverTest } from "./servers.ts";
import { CacheConnectionError, MemcachedCache } from "../mod.ts";

serverTest(
  "MemcachedCache conforms (with a key prefix)",
  [{ kind: "memcached", options: { maxItemSize: "2m" } }],
  async (t, [server]) => {
    await runConformance(t, {
      name: "MemcachedCache",
      make: ({ defaultTtl }) =>
        new MemcachedCache({
          servers: server!.address,
          keyPrefix: `t${crypto.randomUUID().slice(0, 8)}:`,
          defaultTtl,
        }),
      quirks: { ttlGranularity: "seconds", clock: "server" },
    });
  },
);
