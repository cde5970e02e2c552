// Source files as of an earlier commit, for "before" rows in the same run as today's code: the
// files are read from git into a temp dir; a relative import of one of them stays in that dir,
// any other import points at this checkout. `undefined` where git cannot show the commit (a
// shallow clone): the bench then prints no "before" rows.

const root = new URL("../", import.meta.url);

/** `git args` in this checkout: its standard output, or `undefined` when git fails. */
export async function git(args: string[]): Promise<string | undefined> {
  const out = await new Deno.Command("git", {
    args,
    cwd: root.pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/**
 * Writes `files` (paths from the repository root) as they were at `commit` into a temp dir and
 * returns its URL, to `import()` from; the dir is removed when the process unloads.
 */
export async function filesBefore(commit: string, files: string[]): Promise<URL | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "before-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const base = new URL(`file://${dir}/`);
  for (const file of files) {
    const text = await git(["show", `${commit}:${file}`]);
    if (text === undefined) return undefined;
    const source = text.replace(/(from |import\()"(\.{1,2}\/[^"]+)"/g, (_all, head, spec) => {
      const inRepo = new URL(spec, new URL(file, root));
      const path = inRepo.href.slice(root.href.length);
      return `${head}"${files.includes(path) ? new URL(path, base) : inRepo}"`;
    });
    const target = new URL(file, base);
    await Deno.mkdir(new URL(".", target), { recursive: true });
    await Deno.writeTextFile(target, source);
  }
  return base;
}
