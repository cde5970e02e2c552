// memoize and the default serializer as of an earlier commit, for "before" rows in the same run
// as today's code: memoize.ts, _memo_keys.ts and serializers/default.ts are read from git into
// a temp dir, their other imports pointed at this checkout. `undefined` where git cannot show
// the commit (a shallow clone): the bench then prints no "before" rows.
import type { defaultSerializer, memoize } from "../mod.ts";

const root = new URL("../", import.meta.url);
const FILES = ["memoize.ts", "_memo_keys.ts", "serializers/default.ts"];

async function git(args: string[]): Promise<string | undefined> {
  const out = await new Deno.Command("git", {
    args,
    cwd: root.pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/** The old `memoize` and `defaultSerializer`; the temp dir is removed when the process unloads. */
export async function loadLeanBefore(commit: string): Promise<
  { memoize: typeof memoize; defaultSerializer: typeof defaultSerializer } | undefined
> {
  const dir = await Deno.makeTempDir({ prefix: "lean-before-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  await Deno.mkdir(`${dir}/serializers`);
  const base = new URL(`file://${dir}/`);
  for (const file of FILES) {
    const text = await git(["show", `${commit}:${file}`]);
    if (text === undefined) return undefined;
    // A relative import of one of FILES stays in the temp dir; any other goes to this checkout.
    const source = text.replace(/(from |import\()"(\.{1,2}\/[^"]+)"/g, (_all, head, spec) => {
      const inRepo = new URL(spec, new URL(file, root));
      const path = inRepo.href.slice(root.href.length);
      return `${head}"${FILES.includes(path) ? new URL(path, base) : inRepo}"`;
    });
    await Deno.writeTextFile(`${dir}/${file}`, source);
  }
  const { memoize } = await import(`${base}memoize.ts`);
  const { defaultSerializer } = await import(`${base}serializers/default.ts`);
  return { memoize, defaultSerializer };
}
