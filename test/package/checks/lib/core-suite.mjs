// The core black-box checks, written once and run twice: by core.mjs with the library
// from `import "interlock"` and by core.cjs with it from `require("interlock")`. Every
// export that touches files or processes is exercised across real processes.
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  assert,
  assertRejects,
  assertThrows,
  child,
  fromParent,
  role,
  runSteps,
} from "./harness.mjs";

const ROUNDS = 50;

/** Increments a plain counter file under the lock, with an await between read and write. */
async function lockedIncrements(lib, lockPath, counter, n) {
  for (let i = 0; i < n; i++) {
    await lib.withFileLock(lockPath, async () => {
      const v = Number(readFileSync(counter, "utf8") || "0");
      await new Promise((r) => setImmediate(r));
      writeFileSync(counter, String(v + 1));
    });
  }
}

async function childRole(lib, r) {
  const [a, b] = r.args;
  switch (r.name) {
    case "probe": {
      // The parent holds `a` exclusively.
      const tried = await lib.tryAcquireFileLock(a);
      const holder = await lib.readLockHolder(a);
      const timedOut = await lib.acquireFileLock(a, { timeoutMs: 200 }).then(
        (h) => h.release().then(() => ({ code: "granted" })),
        (e) => ({ code: e.code, message: e.message }),
      );
      process.send({ tried: tried !== undefined, holder, timedOut });
      await fromParent(); // the parent released
      const lock = await lib.acquireFileLock(a, { timeoutMs: 10_000 });
      const mine = await lib.readLockHolder(a);
      await lock.release();
      process.send({ mine: mine?.pid });
      return;
    }
    case "state-increment": {
      const state = new lib.StateFile(a, { defaults: { n: 0 } });
      process.send("ready");
      await fromParent();
      for (let i = 0; i < ROUNDS; i++) await state.update((s) => ({ n: s.n + 1 }));
      process.send("done");
      return;
    }
    case "lock-increment": {
      process.send("ready");
      await fromParent();
      await lockedIncrements(lib, a, b, ROUNDS);
      process.send("done");
      return;
    }
    case "start-time":
      process.send({ startTime: lib.processStartTime(process.pid) });
      await fromParent();
      return;
    default:
      throw new Error(`unknown role ${r.name}`);
  }
}

/** Two children run `roleName` together after both said they are ready. */
async function together(roleName, args) {
  const kids = [child(roleName, args), child(roleName, args)];
  for (const k of kids) assert((await k.next()) === "ready", `${roleName} child did not start`);
  for (const k of kids) k.send("go");
  for (const k of kids) assert((await k.next()) === "done", `${roleName} child did not finish`);
  await Promise.all(kids.map((k) => k.exited));
}

export async function core(lib, how, dir) {
  const r = role();
  if (r !== undefined) {
    await childRole(lib, r);
    process.exit(0);
  }
  await runSteps(`core (${how})`, [
    [
      "two processes contend on one file lock: refused, holder named, timeout, then granted",
      async () => {
        const path = join(dir, "contended.lock");
        const lock = await lib.acquireFileLock(path, { holder: { purpose: "package check" } });
        assert(lock.held && lock.mode === "exclusive", "the handle says it holds the lock");
        const c = child("probe", [path]);
        const seen = await c.next();
        assert(seen.tried === false, "tryAcquireFileLock in another process was not refused");
        assert(
          seen.holder?.pid === process.pid,
          `readLockHolder named ${JSON.stringify(seen.holder)}`,
        );
        assert(seen.holder?.purpose === "package check", "the holder record lost its purpose");
        assert(seen.timedOut.code === "ELOCKTIMEOUT", `waiter got ${seen.timedOut.code}`);
        assert(
          seen.timedOut.message.includes(`pid ${process.pid}`),
          `the timeout does not name the holder: ${seen.timedOut.message}`,
        );
        await lock.release();
        c.send("released");
        const after = await c.next();
        assert(after.mine === c.proc.pid, "the other process did not get the lock after release");
        await c.exited;
      },
    ],
    [
      `withFileLock: 2 processes x ${ROUNDS} read-modify-write increments are exact`,
      async () => {
        const counter = join(dir, "counter");
        writeFileSync(counter, "0");
        await together("lock-increment", [join(dir, "counter.lock"), counter]);
        const n = Number(readFileSync(counter, "utf8"));
        assert(n === 2 * ROUNDS, `counter is ${n}, expected ${2 * ROUNDS}`);
      },
    ],
    [
      `StateFile: 2 processes x ${ROUNDS} updates are exact`,
      async () => {
        const path = join(dir, "state.json");
        await together("state-increment", [path]);
        const state = new lib.StateFile(path, { defaults: { n: 0 } });
        const { n } = await state.read();
        assert(n === 2 * ROUNDS, `state is ${n}, expected ${2 * ROUNDS}`);
      },
    ],
    [
      "writeFileAtomic keeps an existing file's mode and rejects a decimal mode",
      async () => {
        const path = join(dir, "config.json");
        writeFileSync(path, "{}\n");
        chmodSync(path, 0o640);
        await lib.writeFileAtomic(path, '{"a":1}\n');
        assert((statSync(path).mode & 0o7777) === 0o640, "mode changed from 0640");
        assert(readFileSync(path, "utf8") === '{"a":1}\n', "content not replaced");
        assertThrows(
          () => lib.writeFileAtomic(path, "x", { mode: 644 }),
          { name: "RangeError", message: /did you mean 0o644/ },
          "mode: 644",
        );
      },
    ],
    [
      "isProcessAlive and processStartTime across processes",
      async () => {
        assert(lib.isProcessAlive(process.pid), "this process is not alive");
        const c = child("start-time", []);
        const { startTime } = await c.next();
        assert(
          process.platform !== "linux" || typeof startTime === "number",
          `no start time on Linux: ${startTime}`,
        );
        assert(lib.isProcessAlive(c.proc.pid, startTime), "a running child is not alive");
        assert(
          !lib.isProcessAlive(c.proc.pid, startTime + 1),
          "another start time still counts as alive",
        );
        c.send("exit");
        await c.exited;
        assert(!lib.isProcessAlive(c.proc.pid, startTime), "an exited child is still alive");
      },
    ],
    [
      "in-process primitives work and bad input throws typed errors at once",
      async () => {
        const mutex = new lib.Mutex();
        assert((await mutex.runExclusive(() => 7)) === 7, "runExclusive");
        assertThrows(
          () => mutex.acquire(1000),
          { name: "TypeError", message: /the number 1000/ },
          "acquire(1000)",
        );
        assertThrows(
          () => new lib.KeyedMutex().acquireMany("abc"),
          { name: "TypeError", message: /the string "abc"/ },
          'acquireMany("abc")',
        );
        assertThrows(
          () => mutex.acquire({ timeoutMs: "1000" }),
          { name: "TypeError", message: /the string "1000"/ },
          'timeoutMs: "1000"',
        );
        assertThrows(
          () => new lib.Semaphore("4"),
          { name: "TypeError", message: /the string "4"/ },
          'Semaphore("4")',
        );
        const held = await mutex.acquire();
        await assertRejects(
          mutex.acquire({ timeoutMs: 0 }),
          { code: "ELOCKTIMEOUT" },
          "timeoutMs 0 while held",
        );
        held.release();
      },
    ],
  ]);
}
