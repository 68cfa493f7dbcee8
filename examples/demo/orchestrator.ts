// The demo: parallel agent sessions on one repository, the naive way and with interlock.
//
// Eight agent sessions (real processes, examples/demo/session.mjs) start at once in a
// scratch git repository. Each claims a session name and a port slot in the host's
// registry and provisions for a moment with no lock held, while another terminal runs
// `ls`; one session is SIGKILLed right then, holding its pending reservation, and a
// replacement takes over. Then each adds its route to a shared proxy config, saves four
// checkpoints on one shadow branch, starts two tool processes, and asks twice for a
// review of its head commit. Everything runs twice: the way such tools usually do it
// (read, think, write), then with interlock. The table counts what each run kept.
//
// Run it: npm run demo  (builds dist/, then node --import tsx examples/demo/orchestrator.ts)
// Options: --sessions N (default 8), --checkpoints N (4), --json (figures for scripts),
//          --quiet (no progress on stderr).
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { formatTable, type Row, tally, type Workload } from "./tally.js";
import { type Outcome, runWorld, type Way } from "./world.js";

/** A usage error: said in one line, exit code 2. */
function usage(message: string): never {
  console.error(`demo: ${message}`);
  process.exit(2);
}

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    usage(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

function options() {
  try {
    return parseArgs({
      options: {
        sessions: { type: "string", default: "8" },
        checkpoints: { type: "string", default: "4" },
        json: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
      },
    }).values;
  } catch (error) {
    return usage((error as Error).message);
  }
}

const values = options();
const workload: Workload = {
  // Two at least (one is killed); at most 16, the registry's slot range.
  sessions: integer("sessions", values.sessions, 2, 16),
  checkpoints: integer("checkpoints", values.checkpoints, 1, 50),
  tools: 2,
};

const begun = performance.now();
const say = (line: string) => {
  const at = `${((performance.now() - begun) / 1000).toFixed(1)} s`.padStart(6);
  if (!values.quiet) process.stderr.write(`${at}  ${line}\n`);
};

say(
  `${workload.sessions} agent sessions × ${workload.checkpoints} checkpoints, run twice ` +
    "(progress on stderr; the table on stdout)",
);
const outcomes = {} as Record<Way, Outcome>;
for (const way of ["naive", "interlock"] as const) {
  outcomes[way] = await runWorld(way, workload, (line) => say(`${way.padEnd(9)} | ${line}`));
}
const rows: Row[] = tally(workload, outcomes.naive.world, outcomes.interlock.world);
const lost = rows.filter((r) => r.interlock !== r.expected);

const timings = {
  naiveMs: Math.round(outcomes.naive.ms),
  interlockMs: Math.round(outcomes.interlock.ms),
  lsMs: { naive: outcomes.naive.lsMs, interlock: outcomes.interlock.lsMs },
  refusedUpdates: { naive: outcomes.naive.refused },
  advanceRefRetries: { interlock: outcomes.interlock.retries },
};

if (values.json) {
  const machine = { cpus: availableParallelism(), loadavg: loadavg().map((l) => +l.toFixed(2)) };
  console.log(JSON.stringify({ workload, rows, timings, machine, node: process.version }, null, 2));
} else {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `${workload.sessions} agent sessions × ${workload.checkpoints} checkpoints on one repository ` +
      "(one SIGKILLed while it held a pending reservation, and replaced)\n",
  );
  console.log(formatTable(rows));
  console.log(
    `\nwall time: naive ${s(timings.naiveMs)}, interlock ${s(timings.interlockMs)}; ` +
      `\`ls\` answered in ${timings.lsMs.naive} ms (naive) and ${timings.lsMs.interlock} ms ` +
      `(interlock) while ${workload.sessions} sessions provisioned`,
  );
  console.log(
    lost.length === 0
      ? "interlock kept everything."
      : `interlock LOST something on ${lost.length} rows: ${lost.map((r) => r.key).join(", ")}`,
  );
}
// A demo whose interlock column shows a loss is a bug report: say so in the exit code.
if (lost.length > 0) process.exitCode = 1;
