// Parallel `up` and `down` of named sessions, each with a slot (its port), where `ls`
// never waits.
//
// A CLI keeps its sessions in one registry file. `up` reserves a name and a slot under
// a short lock (a visible "pending" entry), provisions with no lock held (here it waits
// for the demo's "go", standing in for image pulls and hooks), then commits. `ls` reads
// the registry without waiting for anyone. One `up` is SIGKILLed while provisioning:
// the next command on the host drops its pending entry, and a new `up` gets its name
// and slot.
//
// Run it: npm run build && node --import tsx examples/sessions-up-down.ts
// (With arguments, it is one invocation of the CLI; the demo spawns those.)
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { FileRegistry, IdTakenError } from "interlock";

interface Session {
  port: number;
}

const sessions = (file: string) =>
  new FileRegistry<Session>(file, { format: (base, n) => `${base}-${n}`, timeoutMs: 10_000 });
const SLOTS = { min: 0, max: 7 };

// --- one invocation of the CLI: sessions <up|down|ls> <registry> [name] ---
async function cli(command: string, file: string, name: string | undefined): Promise<void> {
  const registry = sessions(file);
  if (command === "up") {
    await using entry = await registry.reserve(
      name === undefined ? { base: "session", slot: SLOTS } : { id: name, slot: SLOTS },
    );
    console.log(`reserved ${entry.id} ${entry.slot}`);
    await provision();
    await entry.commit({ port: 7000 + entry.slot! });
    console.log("committed");
  } else if (command === "down") {
    // Tear the session down first (nothing to do here), then forget it.
    console.log((await registry.release(name!)) ? "released" : "no such session");
  } else if (command === "ls") {
    const rows = (await registry.list()).sort((a, b) => a.slot! - b.slot!);
    for (const s of rows) {
      const port = s.data === null ? "" : `  port ${s.data.port}`;
      console.log(`${s.id}  slot ${s.slot}  ${s.status}${port}`);
    }
  }
}

/** The slow part: until the demo says "go" on stdin. */
async function provision(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  await once(lines, "line");
  lines.close();
}

// --- the demo ---
const self = fileURLToPath(import.meta.url);

interface Cli {
  child: ChildProcess;
  lines: Interface;
  output: string[];
}

function run(args: string[]): Cli {
  const child = spawn(process.execPath, [...process.execArgv, self, ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const output: string[] = [];
  lines.on("line", (l) => output.push(l));
  return { child, lines, output };
}

async function finished(c: Cli): Promise<string[]> {
  if (c.child.exitCode === null && c.child.signalCode === null) await once(c.child, "close");
  return c.output;
}

/** Waits for an `up` to have its pending entry; resolves its id. */
async function reserved(c: Cli): Promise<string> {
  for (;;) {
    const line = c.output.find((l) => l.startsWith("reserved "));
    if (line !== undefined) return line.split(" ")[1]!;
    await once(c.lines, "line");
  }
}

async function ls(file: string, title: string): Promise<void> {
  console.log(title);
  for (const line of await finished(run(["ls", file]))) console.log(`  ${line}`);
}

async function demo(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "interlock-sessions-demo-"));
  const file = path.join(dir, "sessions.json");
  try {
    console.log("4 `up`s start at once; each reserves a name and a slot, then provisions");
    const ups = [1, 2, 3, 4].map(() => run(["up", file]));
    const names = await Promise.all(ups.map(reserved));
    const byName = new Map(names.map((n, i) => [n, ups[i]!]));
    await ls(file, "ls while all four provision (it takes no lock, so it never waits):");

    // Another terminal asks for a name that is being provisioned.
    const err = await sessions(file)
      .reserve({ id: "session-2" })
      .catch((e: unknown) => e);
    if (err instanceof IdTakenError) {
      const owner = err.owner?.pid === byName.get("session-2")!.child.pid ? "its `up`" : "someone";
      console.log(`up session-2 meanwhile: ${err.code}, ${err.status}, owned by ${owner}`);
    }

    console.log("\nsession-3's `up` is SIGKILLed while provisioning; the others finish");
    const victim = byName.get("session-3")!;
    victim.child.kill("SIGKILL");
    await finished(victim);
    const rest = [...byName].filter(([n]) => n !== "session-3").map(([, c]) => c);
    for (const c of rest) c.child.stdin!.end("go\n");
    await Promise.all(rest.map(finished));
    await ls(file, "ls:");

    const again = run(["up", file]);
    console.log(`\na new \`up\` gets the dead one's name and slot: ${await reserved(again)}`);
    again.child.stdin!.end("go\n");
    await finished(again);

    const downs = [run(["down", file, "session-1"]), run(["down", file, "session-4"])];
    await Promise.all(downs.map(finished));
    await ls(file, "\nafter `down session-1` and `down session-4`, at once:");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const [command, file, name] = process.argv.slice(2);
if (command === undefined) await demo();
else await cli(command, file!, name);

// Output:
// 4 `up`s start at once; each reserves a name and a slot, then provisions
// ls while all four provision (it takes no lock, so it never waits):
//   session-1  slot 0  pending
//   session-2  slot 1  pending
//   session-3  slot 2  pending
//   session-4  slot 3  pending
// up session-2 meanwhile: EIDTAKEN, pending, owned by its `up`
//
// session-3's `up` is SIGKILLed while provisioning; the others finish
// ls:
//   session-1  slot 0  active  port 7000
//   session-2  slot 1  active  port 7001
//   session-4  slot 3  active  port 7003
//
// a new `up` gets the dead one's name and slot: session-3
//
// after `down session-1` and `down session-4`, at once:
//   session-2  slot 1  active  port 7001
//   session-3  slot 2  active  port 7002
