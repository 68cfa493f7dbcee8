// The bench's machine-readable output: every row of every table a suite printed, collected
// as it runs, then written as JSON and as an SVG chart of the ratios to each peer (plain
// string building, no dependencies), for scripts and for the README.
import { mkdir, writeFile } from "node:fs/promises";
import { arch, availableParallelism, loadavg, platform } from "node:os";
import path from "node:path";

/** One row of one printed table. */
export interface ResultRow {
  /** The suite file without `.bench.ts` (`git`, `in-process`, …). */
  suite: string;
  /** The table's title, as printed. */
  table: string;
  /** The contender. */
  name: string;
  /** Its measurement, in `unit` (higher is better). */
  value: number;
  unit: string;
  /** The table's first row (interlock's contender) ÷ this one: > 1 means interlock is ahead. */
  ratio: number;
  /** The name of the table's first row, what `ratio` compares against. */
  versus: string;
}

/** Collects rows while the suites run; `run.ts` names the current suite. */
export class ResultCollector {
  suite = "";
  readonly rows: ResultRow[] = [];

  record(table: string, rows: readonly { name: string; opsPerSec: number }[], unit: string): void {
    const ours = rows[0];
    if (ours === undefined) return;
    for (const r of rows) {
      const value = r.opsPerSec;
      this.rows.push({
        suite: this.suite,
        table,
        name: r.name,
        value,
        unit,
        ratio: ours.opsPerSec / value,
        versus: ours.name,
      });
    }
  }
}

/** The collector `printTable` records into. */
export const collector = new ResultCollector();

/** The JSON document: the run's circumstances and every row. Non-finite numbers become null. */
export function resultsJson(rows: readonly ResultRow[], generatedAt: Date): string {
  const doc = {
    generatedAt: generatedAt.toISOString(),
    node: process.version,
    platform: platform(),
    arch: arch(),
    cpus: availableParallelism(),
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    quick: process.env.BENCH_QUICK === "1",
    suites: [...new Set(rows.map((r) => r.suite))],
    rows,
  };
  return `${JSON.stringify(doc, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`;
}

const xml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
const num = (n: number) => Number(n.toFixed(1));

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return "n/a";
  return r >= 100 ? `${r.toFixed(0)}×` : r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

const TITLE = "interlock ÷ peer (higher: interlock ahead; log scale, line at 1×)";
/** Chart geometry, in px. */
const W = 1000;
const LABEL_END = 520; // labels end here (right-aligned)
const BARS = { from: 540, to: 900 }; // the log-scale bar area
const VALUE_AT = 910; // the ratio's text
const ROW = 20;
const HEADING = 26;
const TOP = 58;

/**
 * The ratios to each peer as an SVG: one horizontal bar per comparison (every row but a
 * table's first), grouped by table, on a log scale with a line at 1×. Bars to the right
 * of the line: interlock is ahead of that peer; to the left: behind.
 */
export function ratiosSvg(rows: readonly ResultRow[], subtitle = ""): string {
  const tables = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const key = `${r.suite}\u0000${r.table}`;
    tables.set(key, [...(tables.get(key) ?? []), r]);
  }
  const compared = [...tables.values()].map((t) => t.slice(1)).filter((t) => t.length > 0);
  const ratios = compared
    .flat()
    .map((r) => r.ratio)
    .filter((r) => Number.isFinite(r) && r > 0);
  // Whole decades, at least 0.1× to 10×, so the 1× line sits on a gridline.
  const lo = Math.min(-1, Math.floor(Math.log10(Math.min(...ratios, 1))));
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(...ratios, 1))));
  const x = (r: number) => BARS.from + ((Math.log10(r) - lo) / (hi - lo)) * (BARS.to - BARS.from);

  const body: string[] = [];
  let y = TOP;
  for (const group of compared) {
    const first = group[0]!;
    body.push(
      `<text x="8" y="${y + 17}" class="h">${xml(clip(`${first.suite}: ${first.table}`, 120))}</text>`,
    );
    y += HEADING;
    for (const r of group) {
      const mid = y + ROW / 2;
      body.push(`<text x="${LABEL_END}" y="${mid + 4}" class="l">${xml(clip(r.name, 72))}</text>`);
      if (Number.isFinite(r.ratio) && r.ratio > 0) {
        const [a, b] = [x(1), x(r.ratio)].sort((p, q) => p - q) as [number, number];
        const cls = r.ratio >= 1 ? "ahead" : "behind";
        body.push(
          `<rect x="${num(a)}" y="${y + 3}" width="${num(Math.max(b - a, 1))}" height="${ROW - 6}" class="${cls}"><title>${xml(`${r.name}: ${r.value} ${r.unit}`)}</title></rect>`,
        );
      }
      body.push(`<text x="${VALUE_AT}" y="${mid + 4}" class="v">${formatRatio(r.ratio)}</text>`);
      y += ROW;
    }
  }
  const height = y + 30;
  const grid: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const gx = num(x(10 ** d));
    const label = d < 0 ? `${10 ** d}×`.replace(/^0\./, "0.") : `${10 ** d}×`;
    grid.push(
      `<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${y}" class="${d === 0 ? "one" : "grid"}"/>`,
      `<text x="${gx}" y="${TOP - 10}" class="t">${label}</text>`,
      `<text x="${gx}" y="${y + 16}" class="t">${label}</text>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="title" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<title id="title">${TITLE}</title>`,
    "<style>.h{font-weight:600}.l{text-anchor:end}.t{text-anchor:middle;fill:#555;font-size:11px}" +
      ".grid{stroke:#ddd}.one{stroke:#222;stroke-width:1.5}.ahead{fill:#2e7d32}.behind{fill:#e65100}</style>",
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="18" font-size="14" font-weight="600">${TITLE}</text>`,
    `<text x="8" y="34" fill="#555">${xml(subtitle)}</text>`,
    ...grid,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/** Writes `latest.json` and `ratios.svg` into `dir`; resolves their paths. */
export async function writeResults(
  dir: string,
  rows: readonly ResultRow[],
  generatedAt = new Date(),
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, "latest.json");
  const svg = path.join(dir, "ratios.svg");
  const subtitle = `node ${process.version}, ${platform()} ${arch()}, ${availableParallelism()} cpus, ${generatedAt.toISOString()}`;
  await writeFile(json, resultsJson(rows, generatedAt));
  await writeFile(svg, ratiosSvg(rows, subtitle));
  return [json, svg];
}
