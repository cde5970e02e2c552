// Hit ratio of every eviction policy: the ARC paper's P6 trace and seeded
// Zipf workloads, at 5 000, 20 000 and 50 000 entries. Prints the tables;
// with --write also puts them into docs/benchmarks.md and docs/hit_ratio.svg.
//   deno task hit-ratio            (= deno run … bench/hit_ratio.ts --write)
// Progress goes to stderr. Policies replay through bench/_simulate.ts, which
// drives them exactly as MemoryStore does (insert on a miss, then evict while
// over the bound) without values, ttls or copies.
import { POLICIES } from "../policies/policy.ts";
import { readLisTrace, type Trace, zipfTrace } from "./_traces.ts";
import { simulate } from "./_simulate.ts";
import { type Panel, renderChart } from "./_chart.ts";

const SIZES = [5000, 20000, 50000];
const SKEWS = [0.8, 1.0];
const SEED = 42;
const TRACE = new URL("../../shared/data/traces/P6.lis.zst", import.meta.url).pathname;
const DOCS = new URL("../docs/", import.meta.url);

// Reference hit ratios from ../shared/data/README.md (same trace, same sizes).
const REFERENCE: [string, number[]][] = [
  ["LRU", [1.14, 2.05, 9.78]],
  ["ARC", [3.89, 15.85, 22.72]],
  ["S3-FIFO", [3.99, 16.33, 30.34]],
  ["W-TinyLFU", [2.95, 17.25, 43.83]],
  ["OPT", [8.04, 25.6, 54.52]],
];

const names = Object.keys(POLICIES);
const encoder = new TextEncoder();
const status = (text: string) => Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}`));

function run(trace: Trace, size: number): number[] {
  return names.map((name) =>
    simulate(trace, POLICIES[name]!, size, (done) => {
      const percent = ((100 * done) / trace.requests.length).toFixed(0);
      status(`${trace.name} at ${size}: ${name} ${percent}%`);
    })
  );
}

const pct = (v: number) => `${v.toFixed(2)} %`;
const fmtSize = (n: number) => n.toLocaleString("en-US").replace(/,/g, " ");

status("reading P6 …");
const started = performance.now();
const p6 = await readLisTrace(TRACE);
const p6Results = SIZES.map((size) => run(p6, size));
const zipfResults = SKEWS.map((skew) =>
  SIZES.map((size) => {
    status(`generating Zipf ${skew} for ${size} …`);
    return run(zipfTrace(skew, 10 * size, 100 * size, SEED), size);
  })
);
status("");
const seconds = ((performance.now() - started) / 1000).toFixed(0);

const p6Table = [
  `| policy | ${SIZES.map(fmtSize).join(" | ")} |`,
  `| --- | ${SIZES.map(() => "---:").join(" | ")} |`,
  ...names.map((name, k) =>
    `| \`${name}\` | ${p6Results.map((row) => pct(row[k]!)).join(" | ")} |`
  ),
  ...REFERENCE.map(([label, values]) =>
    `| *${label} (reference)* | ${values.map((v) => `*${pct(v)}*`).join(" | ")} |`
  ),
].join("\n");

const zipfTable = [
  `| policy | ${
    SKEWS.flatMap((skew) => SIZES.map((size) => `${skew.toFixed(1)}: ${fmtSize(size)}`)).join(" | ")
  } |`,
  `| --- | ${SKEWS.flatMap(() => SIZES.map(() => "---:")).join(" | ")} |`,
  ...names.map((name, k) =>
    `| \`${name}\` | ${
      zipfResults.flatMap((bySize) => bySize.map((row) => pct(row[k]!))).join(" | ")
    } |`
  ),
].join("\n");

const report = [
  `P6 (${p6.requests.length.toLocaleString("en-US")} requests, ` +
  `${p6.keys.length.toLocaleString("en-US")} distinct blocks), hit ratio:`,
  "",
  p6Table,
  "",
  `Zipf (skew: cache size; key space 10 × the cache, 100 × the cache requests, seed ${SEED}), hit ratio:`,
  "",
  zipfTable,
  "",
  `(whole run: ${seconds} s)`,
].join("\n");
console.log(report);

if (Deno.args.includes("--write")) {
  const file = new URL("benchmarks.md", DOCS);
  const text = await Deno.readTextFile(file);
  const begin = "<!-- hit-ratio:begin -->", end = "<!-- hit-ratio:end -->";
  const from = text.indexOf(begin), to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`Cannot write ${file.pathname}: markers missing`);
  await Deno.writeTextFile(
    file,
    `${text.slice(0, from + begin.length)}\n${report}\n${text.slice(to)}`,
  );
  const toMap = (results: number[][]) =>
    new Map(names.map((name, k) => [name, results.map((row) => row[k]!)]));
  const panels: Panel[] = [
    {
      title: "P6 trace (ARC paper, Megiddo & Modha, FAST 2003)",
      sizes: SIZES,
      ratios: toMap(p6Results),
      marks: REFERENCE.filter(([label]) => label === "ARC" || label === "OPT"),
    },
    ...SKEWS.map((skew, s) => ({
      title: `Zipf, skew ${skew.toFixed(1)}, key space 10 × the cache`,
      sizes: SIZES,
      ratios: toMap(zipfResults[s]!),
    })),
  ];
  await Deno.writeTextFile(
    new URL("hit_ratio.svg", DOCS),
    renderChart(panels, "Hit ratio by eviction policy and cache size (higher is better)"),
  );
  console.error(`wrote docs/benchmarks.md and docs/hit_ratio.svg`);
}
