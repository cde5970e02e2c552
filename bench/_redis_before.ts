// RedisCache as of an earlier commit, for "before" rows in the same run as today's code: its
// files (whatever they were called then) are listed and loaded by bench/_before.ts.
import type { RedisCache } from "../mod.ts";
import { filesBefore, git } from "./_before.ts";

/** Loads `RedisCache` from `commit`, or `undefined` where git cannot show it. */
export async function loadRedisBefore(commit: string): Promise<typeof RedisCache | undefined> {
  const listing = await git(["ls-tree", "--name-only", `${commit}:backends/redis`]);
  if (listing === undefined) return undefined;
  const files = [
    "backends/redis.ts",
    ...listing.split("\n").filter((n) => n.endsWith(".ts")).map((n) => `backends/redis/${n}`),
  ];
  const base = await filesBefore(commit, files);
  return base && (await import(`${base}backends/redis.ts`)).RedisCache;
}
