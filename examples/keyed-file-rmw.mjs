// A lock belongs to the resource it guards: one KeyedMutex, keyed by each file's
// absolute path, shared by every writer of that file.
//
// Four "agents" each bump a JSON counter in three files, five times per file. Every
// bump is a read-modify-write with an await in the middle (in real life: a model call,
// a tool run, a network request). First without a lock, then with a lock keyed by the
// path as each caller happened to write it, then with the lock keyed by path.resolve().
//
// Run it: npm run build && node examples/keyed-file-rmw.mjs
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { KeyedMutex } from "interlock";

const AGENTS = 4;
const ROUNDS = 5;
const FILES = ["a.json", "b.json", "c.json"];
const expected = AGENTS * ROUNDS;

// Stands in for the slow part of the work. One event-loop turn is enough to let every
// other agent run its own read in between, so the unlocked run loses updates the same
// way every time.
const somethingSlow = () => new Promise(setImmediate);

// Sync reads and writes keep the interleaving deterministic for this demo; with
// fs/promises the race is exactly the same, only less predictable.
const readCount = (file) => JSON.parse(readFileSync(file, "utf8")).count;
const writeCount = (file, count) => writeFileSync(file, `${JSON.stringify({ count })}\n`);

async function bump(file) {
  const count = readCount(file); // the read belongs inside the lock...
  await somethingSlow();
  writeCount(file, count + 1); // ...together with the write that depends on it
}

// Half of the agents spell each path relative to the working directory, the other half
// absolute: two spellings of one file, as happens when two layers of a program each
// open "the config". path.resolve() turns both into the same key.
function spell(dir, name, agent) {
  const absolute = path.join(dir, name);
  return agent % 2 === 0 ? absolute : path.relative(process.cwd(), absolute);
}

async function runAgents(dir, update) {
  for (const name of FILES) writeCount(path.join(dir, name), 0);
  const agent = async (id) => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of FILES) await update(spell(dir, name, id));
    }
  };
  await Promise.all(Array.from({ length: AGENTS }, (_, id) => agent(id)));
  for (const name of FILES) {
    const count = readCount(path.join(dir, name));
    const lost = expected - count;
    const verdict = lost === 0 ? "all kept" : `${lost} updates lost`;
    console.log(`  ${name}  count=${String(count).padEnd(3)} expected ${expected}  (${verdict})`);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), "interlock-demo-"));
try {
  console.log(
    `${AGENTS} agents x ${ROUNDS} read-modify-writes of each of ${FILES.length} files, with an await in between\n`,
  );

  console.log("without a lock:");
  await runAgents(dir, bump);

  // A lock keyed by the path as written is two locks for one file: each spelling
  // serializes its own writers and still races the other spelling's.
  console.log("\nwith a KeyedMutex keyed by the path as written (two spellings, two locks):");
  const bySpelling = new KeyedMutex();
  await runAgents(dir, (file) => bySpelling.runExclusive(file, () => bump(file)));

  console.log("\nwith a KeyedMutex keyed by path.resolve(file):");
  const files = new KeyedMutex();
  let held = 0;
  let mostHeld = 0;
  await runAgents(dir, (file) =>
    files.runExclusive(path.resolve(file), async () => {
      mostHeld = Math.max(mostHeld, ++held);
      try {
        await bump(file);
      } finally {
        held--;
      }
    }),
  );
  console.log(`  different files were updated in parallel: up to ${mostHeld} locks held at once`);
  console.log(`  keys left in the KeyedMutex afterwards: ${files.size}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Output:
// 4 agents x 5 read-modify-writes of each of 3 files, with an await in between
//
// without a lock:
//   a.json  count=5   expected 20  (15 updates lost)
//   b.json  count=5   expected 20  (15 updates lost)
//   c.json  count=5   expected 20  (15 updates lost)
//
// with a KeyedMutex keyed by the path as written (two spellings, two locks):
//   a.json  count=10  expected 20  (10 updates lost)
//   b.json  count=10  expected 20  (10 updates lost)
//   c.json  count=10  expected 20  (10 updates lost)
//
// with a KeyedMutex keyed by path.resolve(file):
//   a.json  count=20  expected 20  (all kept)
//   b.json  count=20  expected 20  (all kept)
//   c.json  count=20  expected 20  (all kept)
//   different files were updated in parallel: up to 3 locks held at once
//   keys left in the KeyedMutex afterwards: 0
