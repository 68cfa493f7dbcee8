// The examples, run as a user runs them: copied next to the installed package and
// importing "interlock" (not ../src), each checked against its own `// Output:` block.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { documentedOutput } from "../helpers/examples.js";
import { app, copyIntoApp, node, scratchDir, TSX } from "./helpers.js";

let examples: string;
beforeAll(() => {
  examples = copyIntoApp("examples", "examples");
});

/** Runs an example with TMPDIR pointing at a fresh directory, so leftovers show. */
async function runExample(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const tmp = scratchDir();
  const loader = file.endsWith(".ts") ? TSX : [];
  const r = await node([...loader, join(examples, file), ...args], {
    // No user git config: the examples that use git make their own scratch repositories.
    env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp, GIT_CONFIG_GLOBAL: "/dev/null", ...env },
  });
  return { ...r, leftovers: readdirSync(tmp) };
}

describe("examples/keyed-file-rmw.mjs", () => {
  it("prints exactly its documented Output block and removes its temp dir", async () => {
    const r = await runExample("keyed-file-rmw.mjs");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(documentedOutput(join(examples, "keyed-file-rmw.mjs")));
    expect(r.leftovers).toEqual([]);
  });

  it("shows lost updates without the lock and none with it", () => {
    const output = documentedOutput(join(examples, "keyed-file-rmw.mjs"));
    const [unlocked, bySpelling, resolved] = output.split("\n\n").slice(1);
    expect(unlocked).toMatch(/updates lost/);
    expect(bySpelling).toMatch(/updates lost/);
    expect(resolved).not.toMatch(/updates lost/);
    expect(resolved).toMatch(/keys left in the KeyedMutex afterwards: 0/);
  });
});

describe("examples/config-concurrent-edit.ts", () => {
  it("prints exactly its documented Output block and removes its temp dir", async () => {
    const r = await runExample("config-concurrent-edit.ts");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(documentedOutput(join(examples, "config-concurrent-edit.ts")));
    expect(r.leftovers.filter((n) => n.startsWith("interlock-config-demo-"))).toEqual([]);
  });

  it("documents lost edits without the lock and none with it", () => {
    const output = documentedOutput(join(examples, "config-concurrent-edit.ts"));
    expect(output).toMatch(/without a lock\):\n {2}edits kept: 1 of 6/);
    expect(output).toMatch(/atomic write\):\n {2}edits kept: 6 of 6\n {2}mode: 0640/);
    expect(output).toMatch(/ESTATECORRUPT/);
  });
});

describe("examples/cli-single-instance.ts", () => {
  function start(args: string[], env: NodeJS.ProcessEnv) {
    const proc: ChildProcess = spawn(
      process.execPath,
      [...TSX, join(examples, "cli-single-instance.ts"), ...args],
      { cwd: app(), env: { ...process.env, ...env } },
    );
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d) => (stdout += d));
    proc.stderr!.on("data", (d) => (stderr += d));
    const exited = once(proc, "exit").then(([code]) => ({ code, stdout, stderr }));
    return { proc, exited, stdout: () => stdout };
  }

  it("a second run refuses, naming the first run's pid and purpose; after it ends, runs again", async () => {
    const env = { LOCK_DIR: scratchDir() };
    const first = start(["deploy", "production"], { ...env, WORK_MS: "60000" });
    try {
      while (!first.stdout().includes("running as pid")) await once(first.proc.stdout!, "data");
      const second = await start(["deploy", "staging"], env).exited;
      expect(second.code).toBe(1);
      const normalized = second.stderr
        .trimEnd()
        .replace(`pid ${first.proc.pid} `, "pid <pid> ")
        .replace(` on ${hostname()} `, " on <host> ")
        .replace(/for \d+ s$/, "for <n> s");
      expect(normalized).toBe(documentedOutput(join(examples, "cli-single-instance.ts")).trimEnd());
    } finally {
      first.proc.kill("SIGKILL");
      await first.exited;
    }
    // Killed, not cleaned up: the kernel freed the lock anyway.
    const third = await start(["deploy", "staging"], { ...env, WORK_MS: "0" }).exited;
    expect(third).toMatchObject({ code: 0, stderr: "" });
    expect(third.stdout).toMatch(/deploy staging: done/);
  });
});

describe("examples/sessions-up-down.ts", () => {
  it("prints exactly its documented Output block and removes its temp dir", async () => {
    const r = await runExample("sessions-up-down.ts");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(documentedOutput(join(examples, "sessions-up-down.ts")));
    expect(r.leftovers.filter((n) => n.startsWith("interlock-sessions-demo-"))).toEqual([]);
  });

  it("documents ls during provisioning, the refusal, and the reclaimed name and slot", () => {
    const output = documentedOutput(join(examples, "sessions-up-down.ts"));
    expect(output).toMatch(/never waits\):\n( {2}session-\d {2}slot \d {2}pending\n){4}/);
    expect(output).toMatch(/EIDTAKEN, pending/);
    expect(output).toMatch(/name and slot: session-3\n/);
    expect(output).toMatch(/session-3 {2}slot 2 {2}active {2}port 7002/);
  });
});

describe("examples/agent-checkpoints.ts", () => {
  it("prints exactly its documented Output block and removes its temp dirs", async () => {
    const r = await runExample("agent-checkpoints.ts");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(documentedOutput(join(examples, "agent-checkpoints.ts")));
    expect(r.leftovers.filter((n) => n.startsWith("interlock-"))).toEqual([]);
  });

  it("documents lost checkpoints without advanceRef and none with it", () => {
    const [, naive, safe] = documentedOutput(join(examples, "agent-checkpoints.ts")).split("\n\n");
    expect(naive).toMatch(/checkpoints on the branch: 3 of 12/);
    expect(safe).toMatch(/checkpoints on the branch: 12 of 12/);
    expect(safe).toMatch(/one linear history: yes/);
  });
});

describe("examples/demo: parallel agent sessions, the naive way and with interlock", () => {
  interface Report {
    rows: { key: string; incident: string; expected: number; naive: number; interlock: number }[];
  }
  const KEYS = ["checkpoints", "listed", "names", "reclaimed", "reviews", "routes", "tools"];
  const small = ["--sessions", "4", "--checkpoints", "2"];
  const lost = (r: Report) => r.rows.some((row) => row.naive < row.expected);

  it("interlock keeps everything on every row; the naive way loses some (reported if not)", async () => {
    const runs: Report[] = [];
    // Up to three runs, until the naive way has lost something: whether it races depends
    // on the machine, so a quiet machine is reported, not failed.
    while (runs.length < 3 && !runs.some(lost)) {
      const r = await runExample("demo/orchestrator.ts", [...small, "--json", "--quiet"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.leftovers.filter((n) => n.startsWith("interlock-"))).toEqual([]);
      const report = JSON.parse(r.stdout) as Report;
      expect(report.rows.map((row) => row.key)).toEqual(KEYS);
      for (const row of report.rows) {
        expect(row.interlock, row.incident).toBe(row.expected);
        expect(row.naive, row.incident).toBeLessThanOrEqual(row.expected);
      }
      runs.push(report);
    }
    if (!runs.some(lost)) {
      console.warn(
        "the naive way lost nothing in 3 runs:",
        JSON.stringify(runs.map((r) => r.rows)),
      );
    }
  });

  it("prints the table on stdout and its progress, the SIGKILL included, on stderr", async () => {
    const r = await runExample("demo/orchestrator.ts", ["--sessions", "3", "--checkpoints", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const table = r.stdout.split("\n").filter((l) => l.startsWith("| "));
    expect(table).toHaveLength(2 + KEYS.length);
    expect(table[0]).toMatch(/^\| what was kept .*\| expected \| naive \| interlock \|$/);
    for (const line of table.slice(2)) {
      const [expected, , interlock] = line
        .split("|")
        .slice(2, 5)
        .map((c) => Number(c.trim()));
      expect(interlock, line).toBe(expected);
    }
    expect(r.stdout).toMatch(/^interlock kept everything\.$/m);
    // Its pending entry is reclaimed: the replacement gets the same name and slot.
    const killed = /interlock \| SIGKILLed (\S+) \(pid \d+\); ls now leaves it out/.exec(r.stderr);
    expect(killed, r.stderr).not.toBeNull();
    expect(r.stderr).toContain(`interlock | a replacement session reserved ${killed![1]}\n`);
    expect(r.leftovers.filter((n) => n.startsWith("interlock-"))).toEqual([]);
  });
});

describe("examples/deploy-once.ts", () => {
  it("prints exactly its documented Output block and removes its temp dir", async () => {
    const r = await runExample("deploy-once.ts");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(documentedOutput(join(examples, "deploy-once.ts")));
    expect(r.leftovers.filter((n) => n.startsWith("interlock-deploy-demo-"))).toEqual([]);
  });

  it("documents the skipped deploy, the waiter seen from another process, and nothing after SIGKILL", () => {
    const output = documentedOutput(join(examples, "deploy-once.ts"));
    expect(output).toMatch(/ifAvailable\):\n {2}skipped\n/);
    expect(output).toMatch(/pending: deploy:production exclusive, deploy v2\.4\.3 by c\n/);
    expect(output).toMatch(
      /SIGKILLed mid-deploy; query\(\):\n {2}held: {4}\(none\)\n {2}pending: \(none\)/,
    );
    expect(output).toMatch(/tokens rose with every grant: true/);
  });
});
