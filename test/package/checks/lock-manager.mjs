// Package-tier check of LockManager: through `import "interlock"` only. Four processes
// increment one counter through request() and lose nothing; query() from this process
// sees another process's holder (with its holder fields) and another's waiter, and
// nothing once they are gone; steal against another process's holder is refused.
// Usage: node lock-manager.mjs <emptyScratchDir>   (forks itself for the children)
import { fork } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LockManager, LockStealError } from "interlock";

const [role, dir, arg] = process.argv.slice(2);
const turn = () => new Promise((r) => setImmediate(r));

if (role === "incrementer") {
  const locks = new LockManager({ dir });
  for (let i = 0; i < 25; i++) {
    await locks.request("counter", async () => {
      const n = Number(readFileSync(arg, "utf8"));
      await turn();
      writeFileSync(arg, String(n + 1));
    });
  }
  process.send({ done: true }, () => process.exit(0));
} else if (role === "holder" || role === "waiter") {
  // Requests "deploy", reports "queued" a turn later (its wait is written down by then)
  // and "granted" when it holds it; holds it until told to stop.
  const locks = new LockManager({ dir });
  const done = locks.request("deploy", { holder: { purpose: role } }, async (lock) => {
    process.send({ event: "granted", token: lock.token });
    await once(process, "message");
  });
  setImmediate(() => process.send({ event: "queued" }));
  await done;
  process.send({ event: "released" }, () => process.exit(0));
} else {
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
  };
  const locksDir = join(role, "locks");
  const locks = new LockManager({ dir: locksDir });
  const children = [];
  const child = (kind, extra = []) => {
    const c = fork(process.argv[1], [kind, locksDir, ...extra], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(c);
    const events = [];
    const waiting = [];
    c.on("message", (m) => (waiting.length > 0 ? waiting.shift()(m) : events.push(m)));
    const next = () =>
      new Promise((resolve) =>
        events.length > 0 ? resolve(events.shift()) : waiting.push(resolve),
      );
    return { c, next };
  };
  try {
    const counter = join(role, "counter");
    writeFileSync(counter, "0");
    const workers = [1, 2, 3, 4].map(() => child("incrementer", [counter]));
    await Promise.all(workers.map((w) => w.next()));
    const total = Number(readFileSync(counter, "utf8"));
    check(total === 100, `4 processes × 25 locked increments = 100, got ${total}`);

    const holder = child("holder");
    const granted = await holder.next();
    check(granted.event === "granted", `holder granted first: ${JSON.stringify(granted)}`);
    await holder.next(); // queued
    const waiter = child("waiter");
    const queued = await waiter.next();
    check(queued.event === "queued", `waiter waits: ${JSON.stringify(queued)}`);
    const { held, pending } = await locks.query();
    check(
      held.length === 1 &&
        held[0].pid === holder.c.pid &&
        held[0].mode === "exclusive" &&
        held[0].holder?.purpose === "holder",
      `query() shows the other process's holder: ${JSON.stringify(held)}`,
    );
    check(
      pending.length === 1 && pending[0].pid === waiter.c.pid && pending[0].name === "deploy",
      `query() shows the other process's waiter: ${JSON.stringify(pending)}`,
    );
    const stolen = await locks.request("deploy", { steal: true }, () => "stolen").catch((e) => e);
    check(
      stolen instanceof LockStealError && stolen.code === "ELOCKSTEAL",
      `steal from another process refused: ${stolen}`,
    );
    holder.c.send("stop");
    const next = await waiter.next();
    check(
      next.event === "granted" && next.token > granted.token,
      `waiter granted after the holder, with a higher token: ${JSON.stringify([granted, next])}`,
    );
    waiter.c.kill("SIGKILL");
    await once(waiter.c, "exit");
    const after = await locks.query();
    check(
      after.held.length === 0 && after.pending.length === 0,
      `nothing after the holder left and the waiter was killed: ${JSON.stringify(after)}`,
    );
  } catch (err) {
    failures.push(`threw: ${err?.stack ?? err}`);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
  if (failures.length > 0) {
    console.error(`lock-manager check failed:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log(
    "lock-manager: 100 of 100 increments from 4 processes; query() saw the holder and the waiter, then nothing; steal refused",
  );
}
