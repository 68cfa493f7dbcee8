// What the demo counts, and how: one function per row of the final table, applied the
// same way to the naive run and to the interlock run. Every figure comes from what the
// run left behind (the branch, the registry and config files, the logs the spawned
// processes wrote, what `ls` printed), never from what a session believed it did.

/** The work each run does. */
export interface Workload {
  /** Sessions that run to the end (one more is started and SIGKILLed). */
  sessions: number;
  /** Checkpoints per session on the shadow branch. */
  checkpoints: number;
  /** Tool processes each session starts at once. */
  tools: number;
}

/** A registry entry as both ways store it: `{id, slot, status, owner: {pid}}`. */
export interface RegistryRow {
  id: string;
  slot: number | undefined;
  status: string;
  pid: number;
}

/** A session that ran to the end, as it reported itself. */
export interface SessionReport {
  pid: number;
  id: string;
  slot: number;
  /** Its last checkpoint: the commit it asked a reviewer for. */
  head: string;
}

/** Everything one run (naive or interlock) left behind. */
export interface World {
  /** The sessions that ran to the end (the replacement of the killed one included). */
  sessions: SessionReport[];
  /** Pids of the sessions that were provisioning when `ls` ran. */
  provisioning: number[];
  /** What `ls` printed then. */
  listed: RegistryRow[];
  /** The session that was SIGKILLed while it held a pending reservation. */
  killedPid: number;
  /** The registry file at the end. */
  registry: RegistryRow[];
  /** The shared proxy config file at the end. */
  config: unknown;
  /** `git rev-list --count` of the shadow branch (0 if it does not exist). */
  branchCommits: number;
  /** The reviewers' log: one `<commit> <reviewer pid> …` line per reviewer process. */
  reviewLog: string;
  /** The tools' log: one `<session pid> <tool id> <kind>` line per tool process. */
  toolLog: string;
}

/** One row of the table. */
export interface Row {
  key: string;
  incident: string;
  expected: number;
  naive: number;
  interlock: number;
}

const lines = (log: string) => log.split("\n").filter((l) => l.trim() !== "");
const fields = (line: string) => line.trim().split(/\s+/);

/** The entries of a registry file, written by either way; `[]` for anything else. */
export function registryRows(file: unknown): RegistryRow[] {
  const entries = (file as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) return [];
  return entries.map((e) => ({
    id: String(e.id),
    slot: typeof e.slot === "number" ? e.slot : undefined,
    status: String(e.status),
    pid: Number(e.owner?.pid),
  }));
}

/** Parses `ls` output lines (`session-3  slot 2  pending  pid 4242`); other lines are skipped. */
export function lsRows(output: string): RegistryRow[] {
  const rows: RegistryRow[] = [];
  for (const line of lines(output)) {
    const m = /^(\S+)\s+slot (\d+|undefined)\s+(\S+)\s+pid (\d+)$/.exec(line.trim());
    if (m === null) continue;
    const slot = m[2] === "undefined" ? undefined : Number(m[2]);
    rows.push({ id: m[1]!, slot, status: m[3]!, pid: Number(m[4]) });
  }
  return rows;
}

/** Registry: provisioning sessions that `ls` showed as pending. */
export function listedWhilePending(w: World): number {
  const shown = new Set(w.listed.filter((e) => e.status === "pending").map((e) => e.pid));
  return w.provisioning.filter((pid) => shown.has(pid)).length;
}

/**
 * Registry: sessions whose name and slot no other session was given, and which the registry
 * lists as active under that name and slot, owned by them.
 */
export function ownNameAndSlot(w: World): number {
  const count = <T>(xs: T[], x: T) => xs.filter((y) => y === x).length;
  const names = w.sessions.map((s) => s.id);
  const slots = w.sessions.map((s) => s.slot);
  return w.sessions.filter(
    (s) =>
      count(names, s.id) === 1 &&
      count(slots, s.slot) === 1 &&
      w.registry.some(
        (e) => e.id === s.id && e.slot === s.slot && e.status === "active" && e.pid === s.pid,
      ),
  ).length;
}

/** Registry: 1 if no entry of the SIGKILLed session is left in the registry file. */
export function killedEntryReclaimed(w: World): number {
  return w.registry.some((e) => e.pid === w.killedPid) ? 0 : 1;
}

/** Reviewer triggers: sessions' head commits that exactly one reviewer process ran for. */
export function reviewedOnce(w: World): number {
  const runs = new Map<string, number>();
  for (const line of lines(w.reviewLog)) {
    const commit = fields(line)[0]!;
    runs.set(commit, (runs.get(commit) ?? 0) + 1);
  }
  return new Set(w.sessions.map((s) => s.head).filter((h) => runs.get(h) === 1)).size;
}

/** Shared config: sessions whose route is in the shared config file at the end. */
export function routesKept(w: World): number {
  const routes = (w.config as { routes?: unknown } | null)?.routes;
  const pids = new Set(Array.isArray(routes) ? routes.map((r) => Number(r?.pid)) : []);
  return w.sessions.filter((s) => pids.has(s.pid)).length;
}

/** Tool ids: tool processes whose id no other tool of the same session had. */
export function toolsWithOwnId(w: World): number {
  const bySession = new Map<string, string[]>();
  for (const line of lines(w.toolLog)) {
    const [pid, id] = fields(line);
    bySession.set(pid!, [...(bySession.get(pid!) ?? []), id!]);
  }
  let own = 0;
  for (const s of w.sessions) {
    const ids = bySession.get(String(s.pid)) ?? [];
    own += ids.filter((id) => ids.indexOf(id) === ids.lastIndexOf(id)).length;
  }
  return own;
}

interface RowDefinition {
  key: string;
  incident: string;
  expected: (w: Workload) => number;
  count: (w: World) => number;
}

/** The table's rows, in order: what is expected, and how it is counted. */
export const ROWS: readonly RowDefinition[] = [
  {
    key: "checkpoints",
    incident: "checkpoints on the shared shadow branch",
    expected: (w) => w.sessions * w.checkpoints,
    count: (w) => w.branchCommits,
  },
  {
    key: "listed",
    incident: "provisioning sessions `ls` listed as pending",
    expected: (w) => w.sessions,
    count: listedWhilePending,
  },
  {
    key: "names",
    incident: "sessions with a name and a slot of their own",
    expected: (w) => w.sessions,
    count: ownNameAndSlot,
  },
  {
    key: "reclaimed",
    incident: "SIGKILLed session's pending entry reclaimed",
    expected: () => 1,
    count: killedEntryReclaimed,
  },
  {
    key: "reviews",
    incident: "head commits reviewed once (2 triggers each)",
    expected: (w) => w.sessions,
    count: reviewedOnce,
  },
  {
    key: "routes",
    incident: "routes kept in the shared proxy config",
    expected: (w) => w.sessions,
    count: routesKept,
  },
  {
    key: "tools",
    incident: "tool processes with an id of their own",
    expected: (w) => w.sessions * w.tools,
    count: toolsWithOwnId,
  },
];

/** Counts both runs with the same functions. */
export function tally(workload: Workload, naive: World, interlock: World): Row[] {
  return ROWS.map((r) => ({
    key: r.key,
    incident: r.incident,
    expected: r.expected(workload),
    naive: r.count(naive),
    interlock: r.count(interlock),
  }));
}

/** The rows as a Markdown table, padded so it also reads well in a terminal. */
export function formatTable(rows: readonly Row[]): string {
  const head = ["what was kept (docs/demo.md)", "expected", "naive", "interlock"];
  const body = rows.map((r) => [
    r.incident,
    String(r.expected),
    String(r.naive),
    String(r.interlock),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`;
  return [line(head), rule, ...body.map(line)].join("\n");
}
