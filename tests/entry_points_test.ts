import assert from "node:assert/strict";
import * as lib from "../mod.ts";

const root = new URL("../", import.meta.url);
const config = new URL("deno.json", root).pathname;
const { exports } = JSON.parse(await Deno.readTextFile(config)) as {
  exports: Record<string, string>;
};

/** Each backend's entry point and the backend files (under `backends/`) it may load. */
const BACKENDS: Record<string, { cls: string; dir: string; file: string; uses?: string }> = {
  "./memory": { cls: "MemoryCache", dir: "memory", file: "memory.ts" },
  "./null": { cls: "NullCache", dir: "null", file: "null.ts" },
  "./filesystem": { cls: "FileSystemCache", dir: "filesystem", file: "filesystem.ts" },
  "./redis": { cls: "RedisCache", dir: "redis", file: "redis.ts" },
  "./memcached": { cls: "MemcachedCache", dir: "memcached", file: "memcached.ts" },
  "./uwsgi": { cls: "UwsgiCache", dir: "uwsgi", file: "uwsgi.ts" },
  "./deno-kv": { cls: "DenoKvCache", dir: "deno_kv", file: "deno_kv.ts" },
  "./tiered": { cls: "TieredCache", dir: "tiered", file: "tiered.ts", uses: "memory" }, // its L1
};

interface Graph {
  modules: {
    specifier: string;
    error?: string;
    dependencies?: { specifier: string; code?: { error?: string }; type?: { error?: string } }[];
  }[];
  npmPackages: Record<string, unknown>;
}

/** `deno info --json` of a program whose source is `source`, resolved with this deno.json. */
async function graphOf(source: string): Promise<Graph> {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/main.ts`;
    await Deno.writeTextFile(file, source);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--no-lock", "--config", config, file],
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const graph: Graph = JSON.parse(new TextDecoder().decode(out.stdout));
    // deno info exits 0 on an import it cannot resolve; the graph holds the error.
    const errors = graph.modules.flatMap((m) => [
      m.error,
      ...(m.dependencies ?? []).flatMap((d) => [d.code?.error, d.type?.error]),
    ]).filter((error) => error !== undefined);
    assert.deepEqual(errors, []);
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The npm packages and npm: modules of a graph. */
const npmOf = (graph: Graph) => [
  ...Object.keys(graph.npmPackages),
  ...graph.modules.map((m) => m.specifier).filter((s) => s.startsWith("npm:")),
];

/** The repository files of a graph under `backends/`, relative to it. */
const backendFilesOf = (graph: Graph) =>
  graph.modules.map((m) => m.specifier)
    .filter((s) => s.startsWith(new URL("backends/", root).href))
    .map((s) => s.slice(new URL("backends/", root).href.length));

Deno.test("deno.json exports the main entry point, one per backend and ./testing", () => {
  assert.deepEqual(
    Object.keys(exports).sort(),
    [".", ...Object.keys(BACKENDS), "./testing"].sort(),
  );
});

Deno.test("a program that imports only @cachelib/cachelib/memory resolves no npm package", async () => {
  const graph = await graphOf(
    `import { MemoryCache } from "@cachelib/cachelib/memory";
    await using cache = new MemoryCache();
    await cache.set("a", 1);`,
  );
  assert.deepEqual(npmOf(graph), []);
  assert.deepEqual(
    backendFilesOf(graph).sort(),
    [
      "_base.ts",
      "_contract.ts",
      "_get_or_set.ts",
      "_lock.ts",
      "_namespace.ts",
      "_tags.ts",
      "memory.ts",
      "memory/_copy.ts",
      "memory/mod.ts",
      "memory/store.ts",
    ],
    "no other backend, no URL descriptor",
  );
});

Deno.test("the main entry point resolves no npm package either", async () => {
  const graph = await graphOf(
    `import { cacheFromUrl } from "@cachelib/cachelib"; cacheFromUrl("null://");`,
  );
  assert.deepEqual(npmOf(graph), []);
});

Deno.test("the check bites: a program importing the redis client resolves npm:redis", async () => {
  const graph = await graphOf(`import "redis";`);
  assert.ok(Object.keys(graph.npmPackages).some((name) => name.startsWith("redis@")));
});

Deno.test("each backend entry point loads its own backend only, and no npm package", async (t) => {
  for (const [entry, { dir, file, uses }] of Object.entries(BACKENDS)) {
    await t.step(entry, async () => {
      const graph = await graphOf(`import "@cachelib/cachelib${entry.slice(1)}";`);
      assert.deepEqual(npmOf(graph), []);
      const used = (path: string) =>
        uses !== undefined && (path === `${uses}.ts` || path.startsWith(`${uses}/`));
      const foreign = backendFilesOf(graph).filter((path) =>
        path !== file && !path.startsWith(`${dir}/`) && path !== "_base.ts" && !used(path) &&
        path !== "_contract.ts" && path !== "_get_or_set.ts" && path !== "_lock.ts" &&
        path !== "_namespace.ts" && path !== "_tags.ts" && !path.startsWith("_toolkit/") // shared by every backend
      );
      assert.deepEqual(foreign, []);
      assert.ok(backendFilesOf(graph).includes(`${dir}/mod.ts`));
      assert.ok(!backendFilesOf(graph).includes(`${dir}/_url.ts`), "the descriptor is url.ts's");
    });
  }
});

Deno.test("each backend entry point gives its backend and the contract, the same objects as mod.ts", async (t) => {
  for (const [entry, { cls }] of Object.entries(BACKENDS)) {
    await t.step(entry, async () => {
      const module = await import(new URL(exports[entry]!, root).href);
      assert.equal(typeof module[cls], "function");
      for (const name of ["CacheError", "CacheConnectionError", "BaseCache", "DEFAULT_TTL"]) {
        assert.ok(name in module, `${entry} exports ${name}`);
      }
      for (const [name, value] of Object.entries(module)) {
        assert.equal((lib as Record<string, unknown>)[name], value, `mod.ts exports ${name}`);
      }
    });
  }
});

Deno.test("the README names the import of every backend entry point", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  for (const [entry, { cls }] of Object.entries(BACKENDS)) {
    const specifier = `@cachelib/cachelib${entry.slice(1)}`;
    assert.match(readme, new RegExp(`\\|[^\\n]*${cls}[^\\n]*\\|[^\\n]*\`${specifier}\``));
  }
});
