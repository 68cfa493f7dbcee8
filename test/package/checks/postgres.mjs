// Package-tier check of interlock/postgres, through the package as installed: two
// processes contend for one lock (mutual exclusion, tokens rising), update one
// stateStore counter (exact) and increment another through backend.locks.request()
// (exact); then backend.locks.query() here sees one process holding a lock and another
// waiting for it, and nothing once they are done. Needs a server: INTERLOCK_PG_URL.
//   node postgres.mjs <scratchDir>                         (parent)
//   node postgres.mjs <scratchDir> child|lm-holder|lm-waiter <namespace> (forked by it)
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { connectPostgres, StaleFenceError } from "interlock/postgres";

const url = process.env.INTERLOCK_PG_URL;
const HOLDS = 15;
const UPDATES = 25;
const LM_REQUESTS = 15;
const turn = () => new Promise((r) => setImmediate(r));

async function child(namespace) {
  const backend = await connectPostgres({ connectionString: url, namespace });
  const problems = [];
  const tokens = [];
  try {
    const guarded = backend.stateStore("guarded", { defaults: { n: 0, lastToken: 0 } });
    for (let i = 0; i < HOLDS; i++) {
      await backend.withLock("shared-resource", async (lock) => {
        // A read and a separate write: only the lock makes this pair atomic.
        const seen = await guarded.read();
        if (lock.token <= seen.lastToken) {
          problems.push(
            `token ${lock.token} not above ${seen.lastToken}, written by an earlier holder`,
          );
        }
        tokens.push(lock.token);
        await new Promise((r) => setImmediate(r));
        await guarded.update(() => ({ n: seen.n + 1, lastToken: lock.token }), {
          fence: lock.token,
        });
      });
    }
    const counter = backend.stateStore("counter", { defaults: 0 });
    await Promise.all(Array.from({ length: UPDATES }, () => counter.update((n) => n + 1)));
    // A read and a separate write again, through the Web Locks API this time.
    const lmCounter = backend.stateStore("lm-counter", { defaults: 0 });
    for (let i = 0; i < LM_REQUESTS; i++) {
      await backend.locks.request("lm", async (lock) => {
        if (!(lock.signal instanceof AbortSignal) || lock.signal.aborted) {
          problems.push("lock.signal is not the live signal of the held lock");
        }
        const n = await lmCounter.read();
        await turn();
        await lmCounter.update(() => n + 1, { fence: lock.token });
      });
    }
  } catch (err) {
    problems.push(`${err?.name}: ${err?.message}`);
  } finally {
    await backend.close();
  }
  process.send({ problems, tokens }, () => process.exit(0));
}

/** Holds "lm-hold" until told to release it. */
async function lmHolder(namespace) {
  const backend = await connectPostgres({ connectionString: url, namespace });
  const release = new Promise((resolve) => process.once("message", resolve));
  await backend.locks.request("lm-hold", { holder: { purpose: "package check" } }, async () => {
    process.send({ held: true });
    await release;
  });
  await backend.close();
  process.send({ done: true }, () => process.exit(0));
}

/** Waits for "lm-hold", then lets it go. */
async function lmWaiter(namespace) {
  const backend = await connectPostgres({ connectionString: url, namespace });
  const granted = backend.locks.request("lm-hold", { mode: "shared" }, () => {
    process.send({ granted: true });
  });
  await turn();
  process.send({ started: true });
  await granted;
  await backend.close();
  process.send({ done: true }, () => process.exit(0));
}

/** query() from this process sees another process's holder and a third's waiter. */
async function lockManagerAcrossProcesses(namespace, problems) {
  const backend = await connectPostgres({ connectionString: url, namespace });
  const spawn = (role) =>
    fork(process.argv[1], [process.argv[2], role, namespace], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  const next = async (kid, key) => {
    for (;;) {
      const [m] = await once(kid, "message");
      if (m[key]) return m;
    }
  };
  const seen = async (check, what) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const snap = await backend.locks.query();
      if (check(snap)) return snap;
      if (Date.now() > deadline) {
        problems.push(`query() never showed ${what}: ${JSON.stringify(snap)}`);
        return snap;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    const holder = spawn("lm-holder");
    await next(holder, "held");
    const waiter = spawn("lm-waiter");
    await next(waiter, "started");
    const snap = await seen(
      (s) => s.held.length === 1 && s.pending.length === 1 && s.held[0].holder !== undefined,
      "the holder (with its holder fields) and the waiter",
    );
    const [h] = snap.held;
    const [w] = snap.pending;
    if (
      h?.pid !== holder.pid ||
      h?.mode !== "exclusive" ||
      h?.holder?.purpose !== "package check"
    ) {
      problems.push(`query() showed the holder as ${JSON.stringify(h)}`);
    }
    if (w?.pid !== waiter.pid || w?.mode !== "shared" || w?.name !== "lm-hold") {
      problems.push(`query() showed the waiter as ${JSON.stringify(w)}`);
    }
    holder.send({ release: true });
    await Promise.all([next(waiter, "granted"), next(holder, "done"), next(waiter, "done")]);
    await seen((s) => s.held.length + s.pending.length === 0, "nothing once both were done");
  } finally {
    await backend.close();
  }
}

async function parent() {
  const namespace = `package-check-${randomUUID()}`;
  const kids = [0, 1].map(() =>
    fork(process.argv[1], [process.argv[2], "child", namespace], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  const results = await Promise.all(kids.map(async (k) => (await once(k, "message"))[0]));
  const problems = results.flatMap((r) => r.problems);
  const tokens = results.flatMap((r) => r.tokens);
  if (new Set(tokens).size !== tokens.length) problems.push("a token was granted twice");
  const backend = await connectPostgres({ connectionString: url, namespace });
  try {
    const guarded = await backend
      .stateStore("guarded", { defaults: { n: 0, lastToken: 0 } })
      .read();
    if (guarded.n !== 2 * HOLDS)
      problems.push(`lock-guarded counter is ${guarded.n}, expected ${2 * HOLDS}`);
    const counter = await backend.stateStore("counter", { defaults: 0 }).read();
    if (counter !== 2 * UPDATES)
      problems.push(`stateStore counter is ${counter}, expected ${2 * UPDATES}`);
    const lmCounter = await backend.stateStore("lm-counter", { defaults: 0 }).read();
    if (lmCounter !== 2 * LM_REQUESTS)
      problems.push(`locks.request() counter is ${lmCounter}, expected ${2 * LM_REQUESTS}`);
    // A write fenced with the oldest token is refused now.
    const stale = await backend
      .stateStore("guarded", { defaults: { n: 0, lastToken: 0 } })
      .update((s) => s, { fence: Math.min(...tokens) })
      .then(
        () => "accepted",
        (err) => err,
      );
    if (!(stale instanceof StaleFenceError)) problems.push(`a stale fenced write was ${stale}`);
  } finally {
    await backend.close();
  }
  await lockManagerAcrossProcesses(namespace, problems);
  if (problems.length > 0) {
    console.error(`interlock/postgres package check failed:\n- ${problems.join("\n- ")}`);
    process.exit(1);
  }
  console.log(
    `interlock/postgres: 2 processes, ${tokens.length} exclusive holds with rising tokens, ${2 * UPDATES} exact state updates, ${2 * LM_REQUESTS} exact locks.request() increments, query() of a holder and a waiter in two other processes`,
  );
}

if (!url) {
  console.error("INTERLOCK_PG_URL is not set: this check needs a PostgreSQL server (14+)");
  process.exit(1);
}
if (process.argv[3] === "child") await child(process.argv[4]);
else if (process.argv[3] === "lm-holder") await lmHolder(process.argv[4]);
else if (process.argv[3] === "lm-waiter") await lmWaiter(process.argv[4]);
else await parent();
