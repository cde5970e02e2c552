/**
 * Renders hit-ratio tables as one SVG of grouped bar charts (one panel per
 * workload, one group per cache size, one bar per policy), no dependencies.
 *
 * @module
 */

/** One workload's results: `ratios[policy][sizeIndex]` in percent. */
export interface Panel {
  title: string;
  sizes: number[];
  ratios: Map<string, number[]>;
  /** Reference values drawn as ticks: `[label, values per size]`. */
  marks?: [string, number[]][];
}

const COLORS = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
];
const MARK_STYLES = ["#000", "#666"];

const escape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The SVG text of `panels`, stacked vertically. */
export function renderChart(panels: Panel[], caption: string): string {
  const width = 860, panelHeight = 260, top = 50, left = 50, legendHeight = 40;
  const height = top + panels.length * (panelHeight + 30) + legendHeight;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(caption)}</text>`,
  ];
  const policies = [...panels[0]!.ratios.keys()];
  panels.forEach((panel, p) => {
    const y0 = top + p * (panelHeight + 30);
    const plotH = panelHeight - 40, plotW = width - left - 20;
    const max = Math.max(
      10,
      ...[...panel.ratios.values()].flat(),
      ...(panel.marks ?? []).flatMap(([, v]) => v),
    );
    const scale = Math.ceil(max / 10) * 10;
    const yOf = (v: number) => y0 + 20 + plotH - (v / scale) * plotH;
    out.push(`<text x="${left}" y="${y0 + 10}" font-weight="bold">${escape(panel.title)}</text>`);
    for (let t = 0; t <= scale; t += scale / 5) {
      out.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${yOf(t)}" y2="${yOf(t)}" stroke="#ddd"/>`,
        `<text x="${left - 6}" y="${yOf(t) + 4}" text-anchor="end">${t}%</text>`,
      );
    }
    const groupW = plotW / panel.sizes.length;
    const barW = (groupW * 0.8) / policies.length;
    panel.sizes.forEach((size, s) => {
      const gx = left + s * groupW + groupW * 0.1;
      policies.forEach((name, k) => {
        const v = panel.ratios.get(name)![s]!;
        const x = gx + k * barW;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${yOf(v).toFixed(1)}" width="${(barW - 1).toFixed(1)}" ` +
            `height="${(yOf(0) - yOf(v)).toFixed(1)}" fill="${COLORS[k % COLORS.length]}">` +
            `<title>${escape(`${name} ${size}: ${v.toFixed(2)} %`)}</title></rect>`,
        );
      });
      (panel.marks ?? []).forEach(([label, values], m) => {
        const y = yOf(values[s]!).toFixed(1);
        out.push(
          `<line x1="${gx}" x2="${gx + groupW * 0.8}" y1="${y}" y2="${y}" ` +
            `stroke="${MARK_STYLES[m % 2]}" stroke-width="1.5" stroke-dasharray="${
              m % 2 ? "2 3" : "6 3"
            }"><title>${escape(`${label} ${size}: ${values[s]} %`)}</title></line>`,
        );
      });
      out.push(
        `<text x="${gx + groupW * 0.4}" y="${yOf(0) + 15}" text-anchor="middle">` +
          `${size.toLocaleString("en-US")} entries</text>`,
      );
    });
  });
  const ly = height - legendHeight + 10;
  const items: [string, string, boolean][] = [
    ...policies.map((
      name,
      k,
    ): [string, string, boolean] => [name, COLORS[k % COLORS.length]!, false]),
    ...(panels[0]!.marks ?? []).map(([label], m): [string, string, boolean] => [
      label,
      MARK_STYLES[m % 2]!,
      true,
    ]),
  ];
  const itemW = (width - 2 * left) / Math.min(items.length, 11);
  items.forEach(([label, color, line], k) => {
    const x = left + (k % 11) * itemW, y = ly + Math.floor(k / 11) * 16;
    out.push(
      line
        ? `<line x1="${x}" x2="${x + 14}" y1="${y + 5}" y2="${
          y + 5
        }" stroke="${color}" stroke-width="2"/>`
        : `<rect x="${x}" y="${y}" width="12" height="10" fill="${color}"/>`,
      `<text x="${x + 17}" y="${y + 10}">${escape(label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
