import { fork } from "node:child_process";
import { once } from "node:events";
import { Bench } from "tinybench";
import { collector } from "./results.js";

/** One contender in a comparison: `fn` performs `ops` operations per call. */
export interface Contender {
  name: string;
  fn: () => unknown;
  ops?: number;
  setup?: () => unknown;
}

export interface Row {
  name: string;
  opsPerSec: number;
}

const quick = process.env.BENCH_QUICK === "1";

/**
 * Runs every contender of one scenario in the same process, back to back, and prints
 * ops/s (median sample) with the ratio interlock ÷ peer. The first contender is ours.
 */
export async function compare(
  title: string,
  contenders: Contender[],
  { time = quick ? 150 : 600 }: { time?: number } = {},
): Promise<Row[]> {
  const bench = new Bench({ time, warmup: true, warmupTime: quick ? 50 : 200 });
  for (const c of contenders) {
    bench.add(c.name, c.fn as () => Promise<void>, c.setup ? { beforeAll: c.setup as any } : {});
  }
  await bench.run();
  const rows: Row[] = contenders.map((c) => {
    const task = bench.getTask(c.name)!;
    const r = task.result as any;
    if (r.error) throw r.error;
    const medianMs: number = r.latency.p50 ?? r.period;
    return { name: c.name, opsPerSec: ((c.ops ?? 1) * 1000) / medianMs };
  });
  printTable(title, rows);
  return rows;
}

/**
 * Prints rows as a table; the ratio column is the first row's ops/s ÷ each row's. The rows
 * are also recorded for bench/results/ (see results.ts).
 */
export function printTable(title: string, rows: Row[], unit = "ops/s"): void {
  collector.record(title, rows, unit);
  const ours = rows[0]!.opsPerSec;
  console.log(`\n### ${title}`);
  console.log(`| contender | ${unit} | interlock ÷ this |`);
  console.log("|---|---:|---:|");
  for (const r of rows) {
    console.log(`| ${r.name} | ${fmt(r.opsPerSec)} | ${(ours / r.opsPerSec).toFixed(2)}× |`);
  }
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

/**
 * Forks `count` children running a bench fixture with `args`, waits until each says it is
 * ready (one IPC message), starts them together with "go", and returns the milliseconds
 * until each has reported done (a second message). Start-up is not timed.
 */
export async function timeChildren(fixture: URL, args: string[], count: number): Promise<number> {
  return (await runChildren(fixture, args, count)).ms;
}

/** As {@link timeChildren}, also returning each child's done message (what it reported). */
export async function runChildren(
  fixture: URL,
  args: string[],
  count: number,
): Promise<{ ms: number; replies: unknown[] }> {
  const children = Array.from({ length: count }, () =>
    fork(fixture, args, {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  await Promise.all(children.map((c) => once(c, "message")));
  const started = performance.now();
  const done = children.map((c) => once(c, "message"));
  for (const c of children) c.send("go");
  const replies = (await Promise.all(done)).map(([message]) => message);
  const ms = performance.now() - started;
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, "exit") : undefined)));
  return { ms, replies };
}
