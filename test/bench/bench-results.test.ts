// bench/results.ts: what `npm run bench` records of its tables, and the JSON and SVG it
// writes from them, on a tiny made-up suite (the real suites are too slow for a test).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { printTable } from "../../bench/lib.js";
import {
  collector,
  formatRatio,
  ResultCollector,
  type ResultRow,
  ratiosSvg,
  resultsJson,
  writeResults,
} from "../../bench/results.js";
import { useTempDir } from "../helpers/temp-dir.js";

const tempDir = useTempDir();

function suite(): ResultRow[] {
  const c = new ResultCollector();
  c.suite = "tiny";
  c.record(
    "Mutex <fast> & friends",
    [
      { name: "interlock Mutex", opsPerSec: 1000 },
      { name: "peer-slow", opsPerSec: 100 }, // interlock 10× ahead
      { name: "peer-fast", opsPerSec: 10_000 }, // interlock 10× behind
    ],
    "ops/s",
  );
  c.suite = "other";
  c.record(
    "writes",
    [
      { name: "interlock StateFile", opsPerSec: 50 },
      { name: "steno", opsPerSec: 25 },
    ],
    "writes/s",
  );
  c.record("alone", [{ name: "interlock only", opsPerSec: 5 }], "ops/s");
  c.record("empty", [], "ops/s");
  return c.rows;
}

/** The x coordinates of the bars' two ends, per contender, from the SVG. */
function bars(svg: string): Map<string, { x1: number; x2: number; cls: string }> {
  const out = new Map<string, { x1: number; x2: number; cls: string }>();
  const re =
    /<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" class="(\w+)"><title>([^:]+):/g;
  for (const m of svg.matchAll(re)) {
    out.set(m[4]!, { x1: Number(m[1]), x2: Number(m[1]) + Number(m[2]), cls: m[3]! });
  }
  return out;
}

const oneX = (svg: string) => Number(/<line x1="([\d.]+)"[^>]*class="one"/.exec(svg)![1]);

describe("bench results", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("records every row with its suite, table, unit and the ratio interlock ÷ this", () => {
    const rows = suite();
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual({
      suite: "tiny",
      table: "Mutex <fast> & friends",
      name: "interlock Mutex",
      value: 1000,
      unit: "ops/s",
      ratio: 1,
      versus: "interlock Mutex",
    });
    expect(rows.map((r) => [r.suite, r.name, r.ratio])).toEqual([
      ["tiny", "interlock Mutex", 1],
      ["tiny", "peer-slow", 10],
      ["tiny", "peer-fast", 0.1],
      ["other", "interlock StateFile", 1],
      ["other", "steno", 2],
      ["other", "interlock only", 1],
    ]);
  });

  it("printTable prints the same table as before and records its rows", () => {
    const printed: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
    const before = collector.rows.length;
    collector.suite = "test";
    printTable("t", [
      { name: "ours", opsPerSec: 2000 },
      { name: "theirs", opsPerSec: 500 },
    ]);
    expect(printed).toEqual([
      "\n### t",
      "| contender | ops/s | interlock ÷ this |",
      "|---|---:|---:|",
      "| ours | 2.0k | 1.00× |",
      "| theirs | 500.0 | 4.00× |",
    ]);
    expect(collector.rows.slice(before).map((r) => [r.suite, r.name, r.ratio])).toEqual([
      ["test", "ours", 1],
      ["test", "theirs", 4],
    ]);
    collector.rows.splice(before);
  });

  it("JSON: the run's circumstances, the suites, every row; non-finite numbers as null", () => {
    const rows = [...suite(), { ...suite()[1]!, name: "stalled", value: 0, ratio: Infinity }];
    const doc = JSON.parse(resultsJson(rows, new Date("2025-01-31T10:00:00Z")));
    expect(doc).toMatchObject({
      generatedAt: "2025-01-31T10:00:00.000Z",
      node: process.version,
      suites: ["tiny", "other"],
    });
    expect(doc.cpus).toBeGreaterThan(0);
    expect(doc.rows).toHaveLength(7);
    expect(doc.rows[1]).toEqual(rows[1]);
    expect(doc.rows[6]).toMatchObject({ name: "stalled", value: 0, ratio: null });
  });

  it("SVG: one bar per comparison, from the 1× line, on a log scale", () => {
    const svg = ratiosSvg(suite(), "node x");
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const b = bars(svg);
    // Every row but each table's first (interlock itself, ratio 1).
    expect([...b.keys()]).toEqual(["peer-slow", "peer-fast", "steno"]);
    const one = oneX(svg);
    expect(b.get("peer-slow")).toMatchObject({ x1: one, cls: "ahead" });
    expect(b.get("peer-fast")).toMatchObject({ x2: one, cls: "behind" });
    // Log scale: 10× and 0.1× are equally far from 1×; 2× is log10(2) of a decade.
    const decade = b.get("peer-slow")!.x2 - one;
    expect(one - b.get("peer-fast")!.x1).toBeCloseTo(decade, 0);
    expect(b.get("steno")!.x2 - one).toBeCloseTo(decade * Math.log10(2), 0);
    expect(svg).toContain(">10.0×</text>");
    expect(svg).toContain(">0.10×</text>");
    expect(svg).toContain(">2.00×</text>");
  });

  it("SVG: escapes text, and grows its scale to the extreme ratio", () => {
    const svg = ratiosSvg([
      ...suite(),
      { ...suite()[1]!, name: 'a "huge" <gap>', ratio: 3000, value: 1 / 3 },
    ]);
    expect(svg).toContain("tiny: Mutex &lt;fast&gt; &amp; friends");
    expect(svg).toContain("a &quot;huge&quot; &lt;gap&gt;");
    expect(svg).not.toMatch(/<gap>/);
    expect(svg).toContain(">10000×</text>"); // the axis reaches the next decade
    expect(formatRatio(3000)).toBe("3000×");
    expect(formatRatio(Number.NaN)).toBe("n/a");
  });

  it("writes latest.json and ratios.svg into the results folder", async () => {
    const dir = join(tempDir(), "results");
    const [json, svg] = await writeResults(dir, suite());
    expect(json).toBe(join(dir, "latest.json"));
    expect(JSON.parse(readFileSync(json!, "utf8")).rows).toHaveLength(6);
    expect(readFileSync(svg!, "utf8")).toMatch(/^<svg [\s\S]*<title>[\s\S]*<\/svg>\n$/);
  });
});
