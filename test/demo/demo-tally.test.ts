// The demo's counting functions (examples/demo/tally.ts), on hand-made leftovers: a run
// that kept everything counts as expected on every row, and each kind of loss shows on
// its own row only.
import { describe, expect, it } from "vitest";
import {
  formatTable,
  lsRows,
  ROWS,
  registryRows,
  type SessionReport,
  tally,
  type Workload,
  type World,
} from "../../examples/demo/tally.js";

const workload: Workload = { sessions: 3, checkpoints: 2, tools: 2 };
const sessions: SessionReport[] = [
  { pid: 101, id: "session-1", slot: 0, head: "a1" },
  { pid: 102, id: "session-2", slot: 1, head: "b2" },
  { pid: 104, id: "session-3", slot: 2, head: "c3" }, // the replacement of pid 103
];

/** What a run that lost nothing leaves behind; `changes` spoils one part of it. */
function world(changes: Partial<World> = {}): World {
  return {
    sessions,
    provisioning: [101, 102, 103],
    listed: [101, 102, 103].map((pid, i) => ({
      id: `session-${i + 1}`,
      slot: i,
      status: "pending",
      pid,
    })),
    killedPid: 103,
    registry: sessions.map((s) => ({ id: s.id, slot: s.slot, status: "active", pid: s.pid })),
    config: { routes: sessions.map((s) => ({ session: s.id, port: 7000 + s.slot, pid: s.pid })) },
    branchCommits: 6,
    reviewLog: "a1 9001 port 7000\nb2 9002 port 7001\nc3 9003 port 7002\n",
    toolLog:
      "101 tool-1 tests\n101 tool-2 lint\n102 tool-1 tests\n102 tool-2 lint\n104 tool-2 lint\n104 tool-1 tests\n",
    ...changes,
  };
}

const counted = (w: World) => Object.fromEntries(ROWS.map((r) => [r.key, r.count(w)]));
const expected = Object.fromEntries(ROWS.map((r) => [r.key, r.expected(workload)]));

describe("demo tally", () => {
  it("a run that kept everything counts as expected on every row", () => {
    expect(expected).toEqual({
      checkpoints: 6,
      listed: 3,
      names: 3,
      reclaimed: 1,
      reviews: 3,
      routes: 3,
      tools: 6,
    });
    expect(counted(world())).toEqual(expected);
  });

  it.each<[string, Partial<World>, Record<string, number>]>([
    ["orphaned checkpoints", { branchCommits: 2 }, { checkpoints: 2 }],
    [
      "ls missing pending sessions (and an active one does not count)",
      {
        listed: registryRows({
          entries: [{ id: "session-1", slot: 0, status: "active", owner: { pid: 101 } }],
        }),
      },
      { listed: 0 },
    ],
    [
      "two sessions given the same name",
      { sessions: sessions.map((s) => (s.pid === 102 ? { ...s, id: "session-1" } : s)) },
      { names: 1, reviews: 3, routes: 3, tools: 6 },
    ],
    [
      "two sessions given the same slot",
      { sessions: sessions.map((s) => (s.pid === 104 ? { ...s, slot: 0 } : s)) },
      { names: 1 },
    ],
    [
      "a session missing from the registry, another listed as someone else's",
      {
        registry: world()
          .registry.filter((e) => e.pid !== 101)
          .map((e) => (e.pid === 102 ? { ...e, pid: 9 } : e)),
      },
      { names: 1 },
    ],
    [
      "the killed session's entry left (pending or promoted)",
      { registry: [...world().registry, { id: "session-4", slot: 3, status: "active", pid: 103 }] },
      { reclaimed: 0 },
    ],
    ["a commit reviewed twice, one never", { reviewLog: "a1 1\na1 2\nb2 3\n" }, { reviews: 1 }],
    [
      "routes lost by a stale merge",
      { config: { routes: [{ session: "session-2", port: 7001, pid: 102 }] } },
      { routes: 1 },
    ],
    ["no config file", { config: null }, { routes: 0 }],
    [
      "two tools of one session with one id (other sessions' ids may repeat)",
      {
        toolLog:
          "101 tool-1 tests\n101 tool-1 lint\n102 tool-1 tests\n102 tool-2 lint\n104 tool-1 x\n104 tool-2 y\n",
      },
      { tools: 4 },
    ],
  ])("%s shows on its row only", (_name, spoiled, rows) => {
    expect(counted(world(spoiled))).toEqual({ ...expected, ...rows });
  });

  it("counts the naive and the interlock run with the same functions", () => {
    const lossy = world({ branchCommits: 1, reviewLog: "" });
    const a = tally(workload, lossy, world());
    const b = tally(workload, world(), lossy);
    expect(a.map((r) => [r.naive, r.interlock])).toEqual(b.map((r) => [r.interlock, r.naive]));
    expect(a.find((r) => r.key === "checkpoints")).toMatchObject({
      expected: 6,
      naive: 1,
      interlock: 6,
    });
  });

  it("reads both registry formats, and nothing from a file that is not one", () => {
    const entry = { id: "s", slot: 2, status: "pending", owner: { pid: 7, hostname: "h" } };
    const ours = { format: "interlock.registry", version: 1, entries: [{ ...entry, token: "t" }] };
    expect(registryRows(ours)).toEqual([{ id: "s", slot: 2, status: "pending", pid: 7 }]);
    expect(registryRows({ entries: [entry] })).toEqual(registryRows(ours));
    expect(registryRows({ entries: [{ ...entry, slot: undefined }] })[0]!.slot).toBeUndefined();
    expect(registryRows(null)).toEqual([]);
    expect(registryRows({ entries: "no" })).toEqual([]);
  });

  it("parses what ls prints and skips its timing line", () => {
    const out =
      "session-1  slot 0  pending  pid 41\nsession-2  slot undefined  active  pid 42\nanswered in 1.2 ms\n";
    expect(lsRows(out)).toEqual([
      { id: "session-1", slot: 0, status: "pending", pid: 41 },
      { id: "session-2", slot: undefined, status: "active", pid: 42 },
    ]);
  });

  it("formats a Markdown table with the numbers right-aligned", () => {
    const table = formatTable([
      { key: "k", incident: "things", expected: 32, naive: 6, interlock: 32 },
    ]);
    expect(table.split("\n")).toEqual([
      "| what was kept (docs/demo.md) | expected | naive | interlock |",
      "| ---------------------------- | -------: | ----: | --------: |",
      "| things                       |       32 |     6 |        32 |",
    ]);
  });
});
