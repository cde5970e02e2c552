// RedisCache as of an earlier commit, for "before" rows in the same run as today's code: its
// files are read from git (whatever they were called then) into a temp dir, their imports of the
// contract, serializers and base class pointed at this checkout. `undefined` where git cannot
// show the commit (a shallow clone): the bench then prints no "before" rows.
import type { RedisCache } from "../mod.ts";

const root = new URL("../", import.meta.url);

async function git(args: string[]): Promise<string | undefined> {
  const out = await new Deno.Command("git", {
    args,
    cwd: root.pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/** Loads `RedisCache` from `commit`; the temp dir is removed when the process unloads. */
export async function loadRedisBefore(commit: string): Promise<typeof RedisCache | undefined> {
  const listing = await git(["ls-tree", "--name-only", `${commit}:backends/redis`]);
  if (listing === undefined) return undefined;
  const files = [
    "redis.ts",
    ...listing.split("\n").filter((n) => n.endsWith(".ts")).map((n) => `redis/${n}`),
  ];
  const dir = await Deno.makeTempDir({ prefix: "redis-before-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  await Deno.mkdir(`${dir}/redis`);
  for (const file of files) {
    const text = await git(["show", `${commit}:backends/${file}`]);
    if (text === undefined) return undefined;
    const source = text
      .replaceAll('"../../cache.ts"', `"${new URL("cache.ts", root)}"`)
      .replaceAll('"../../serializers/', `"${new URL("serializers/", root)}`)
      .replaceAll('"../serializers/', `"${new URL("serializers/", root)}`)
      .replaceAll('"../cache.ts"', `"${new URL("cache.ts", root)}"`)
      .replaceAll('"./_base.ts"', `"${new URL("backends/_base.ts", root)}"`);
    await Deno.writeTextFile(`${dir}/${file}`, source);
  }
  return (await import(`file://${dir}/redis.ts`)).RedisCache;
}
