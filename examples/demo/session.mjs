// One agent session of the demo (examples/demo/orchestrator.ts starts eight of them):
//
//   node session.mjs <naive|interlock> <dir> <checkpoints> <tools>
//
// It does what a coding-agent session does to the things it shares with its siblings:
// claims a session name and a port slot in the host's registry, provisions, adds its
// route to a shared proxy config, saves checkpoints on one shadow branch, starts a few
// tool processes, and asks for a review of its head commit. The `naive` way is what such
// tools usually do (read, think, write); `interlock` is the same work with the library.
// The orchestrator talks to it over IPC: "go" starts it, "provisioned" ends the slow part.
//
// Plain JavaScript on purpose: eight of these start at once, and a TypeScript loader
// costs each of them about a second of CPU.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { advanceRef, FileRegistry, IdAllocator, StateFile, writeFileAtomic } from "interlock";

const [way, dir, checkpointArg, toolArg] = process.argv.slice(2);
const CHECKPOINTS = Number(checkpointArg);
const TOOLS = Number(toolArg);
const REF = "refs/heads/agent/checkpoints";
const SLOTS = { min: 0, max: 15 };
const FIRST_PORT = 7000;
const repo = path.join(dir, "repo");
const registryFile = path.join(dir, "sessions.json");
const proxyFile = path.join(dir, "proxy.json");
const toolLog = path.join(dir, "tools.log");
const naive = way === "naive";

/** The agent deciding something (a model call, a tool run): 5 to 25 ms of waiting. */
const think = () => sleep(5 + Math.random() * 20);

/** Resolves when the orchestrator sends `text`; listen before asking for it. */
function told(text) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message !== text) return;
      process.off("message", listener);
      resolve();
    };
    process.on("message", listener);
  });
}

/** git in the shared repository, `input` on its stdin; resolves its trimmed stdout. */
function git(args, input = "") {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd: repo }, (error, stdout) =>
      error ? reject(error) : resolve(stdout.trim()),
    );
    child.stdin.on("error", () => {}); // git may exit without reading it; its exit code tells
    child.stdin.end(input);
  });
}

async function readJson(file, fallback) {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    if (error.code === "ENOENT") return fallback;
    throw error;
  }
}

const writeJson = (file, value) => writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);

// --- a session name and a port slot in the host's registry ---

/** Naive: read the registry, pick the first free name and slot, write it back. */
async function reserveNaive() {
  const state = await readJson(registryFile, { entries: [] });
  let n = 1;
  while (state.entries.some((e) => e.id === `session-${n}`)) n++;
  let slot = SLOTS.min;
  while (state.entries.some((e) => e.slot === slot)) slot++;
  await think(); // is the port free? is the name valid? (others read the file meanwhile)
  const id = `session-${n}`;
  state.entries.push({ id, slot, status: "pending", owner: { pid: process.pid }, data: null });
  await writeJson(registryFile, state);
  return {
    id,
    slot,
    async commit(data) {
      const now = await readJson(registryFile, { entries: [] });
      const mine = now.entries.find((e) => e.id === id);
      if (mine !== undefined) Object.assign(mine, { status: "active", data });
      await writeJson(registryFile, now);
    },
  };
}

/** interlock: a pending entry written under a short lock; nothing is held afterwards. */
function reserveInterlock() {
  const registry = new FileRegistry(registryFile, {
    format: (base, n) => `${base}-${n}`,
    timeoutMs: 10_000,
  });
  return registry.reserve({ base: "session", slot: SLOTS });
}

// --- one shared config file, edited by every session ---

async function addRoute(route) {
  if (naive) {
    const config = await readJson(proxyFile, { routes: [] }); // a snapshot...
    await think();
    await writeJson(proxyFile, { ...config, routes: [...config.routes, route] }); // ...merged late
  } else {
    await think();
    const proxy = new StateFile(proxyFile, { defaults: { routes: [] } });
    // The read happens inside the lock, so the merge sees every earlier edit.
    await proxy.update((config) => ({ ...config, routes: [...config.routes, route] }), {
      timeoutMs: 10_000,
    });
  }
}

// --- checkpoints on one shadow branch ---

/**
 * The session's work: a notes file per step in its own folder, and a snapshot of each
 * (a blob and a tree), made before the sessions start together: the race is the ref.
 */
async function prepareSnapshots() {
  const work = path.join(dir, "work", String(process.pid));
  await mkdir(work, { recursive: true });
  const files = [];
  for (let n = 1; n <= CHECKPOINTS; n++) {
    files.push(path.join(work, `notes-${n}.md`));
    await writeFile(files.at(-1), `pid ${process.pid}: notes after step ${n}\n`);
  }
  const blobs = await git(["hash-object", "-w", "--stdin-paths"], `${files.join("\n")}\n`);
  const listings = blobs.split("\n").map((blob) => `100644 blob ${blob}\tNOTES.md\n`);
  return (await git(["mktree", "--batch"], listings.join("\n"))).split("\n");
}

const commitOn = (tree, tip, message) =>
  git(["commit-tree", tree, ...(tip === undefined ? [] : ["-p", tip]), "-m", message]);

const stats = { retries: 0, refused: 0 };

async function checkpoint(id, n, tree) {
  const message = `${id} (pid ${process.pid}): checkpoint ${n}`;
  if (naive) {
    const tip = await git(["rev-parse", "--verify", "-q", REF]).catch(() => undefined);
    const oid = await commitOn(tree, tip, message);
    // Sets the ref whatever it points to now: a commit another session landed since
    // the rev-parse above is silently dropped from the branch.
    await git(["update-ref", REF, oid]).catch(() => stats.refused++);
    return oid;
  }
  const { oid, attempts } = await advanceRef(
    { cwd: repo, ref: REF, message, timeoutMs: 30_000 },
    (tip) => commitOn(tree, tip, message),
  );
  stats.retries += attempts - 1;
  return oid;
}

// --- ids for the tool processes this session starts ---

const registered = new Set(); // naive: the ids of tools that are up
const ids = new IdAllocator({ format: (base, n) => `${base}-${n}` });

async function startTool(kind) {
  let id = "tool-1";
  let reservation;
  if (naive) {
    for (let n = 2; registered.has(id); n++) id = `tool-${n}`; // checked against the registered
  } else {
    reservation = ids.reserve("tool"); // checked and claimed in one synchronous step
    id = reservation.id;
  }
  // The tool itself writes down the id it was given: that log is what the demo counts.
  const tool = spawn(
    "sh",
    ["-c", 'echo "$1 $2 $3" >> "$4"', "tool", process.pid, id, kind, toolLog],
    {
      stdio: "ignore",
    },
  );
  try {
    await once(tool, "spawn");
  } catch (error) {
    reservation?.release();
    throw error;
  }
  if (naive)
    registered.add(id); // registered once it is up: after an await
  else reservation.commit();
  await once(tool, "exit");
}

// --- the session ---

const snapshots = await prepareSnapshots();
const go = told("go");
process.send({ type: "ready" });
await go;

const entry = naive ? await reserveNaive() : await reserveInterlock();
const provisioned = told("provisioned");
process.send({ type: "reserved", id: entry.id, slot: entry.slot });
await provisioned; // provisioning: the slow part, with no lock held

const port = FIRST_PORT + entry.slot;
await entry.commit({ port });
await addRoute({ session: entry.id, port, pid: process.pid });

let head = "";
for (let n = 1; n <= CHECKPOINTS; n++) head = await checkpoint(entry.id, n, snapshots[n - 1]);

const kinds = ["tests", "lint", "typecheck", "format"];
await Promise.all(Array.from({ length: TOOLS }, (_, i) => startTool(kinds[i % kinds.length])));

// Two hooks (post-checkpoint and end-of-turn) each ask for a review of the same head.
process.send({ type: "review", commit: head, session: entry.id });
process.send({ type: "review", commit: head, session: entry.id });
process.send({ type: "done", head, ...stats }, () => process.disconnect());
