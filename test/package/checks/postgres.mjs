// Package-tier check of interlock/postgres, through the package as installed: two
// processes contend for one lock (mutual exclusion, tokens rising) and update one
// stateStore counter (exact). Needs a server: INTERLOCK_PG_URL.
//   node postgres.mjs <scratchDir>           (parent)
//   node postgres.mjs <scratchDir> child ... (forked by the parent)
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { connectPostgres, StaleFenceError } from "interlock/postgres";

const url = process.env.INTERLOCK_PG_URL;
const HOLDS = 15;
const UPDATES = 25;

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
  } catch (err) {
    problems.push(`${err?.name}: ${err?.message}`);
  } finally {
    await backend.close();
  }
  process.send({ problems, tokens }, () => process.exit(0));
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
  if (problems.length > 0) {
    console.error(`interlock/postgres package check failed:\n- ${problems.join("\n- ")}`);
    process.exit(1);
  }
  console.log(
    `interlock/postgres: 2 processes, ${tokens.length} exclusive holds with rising tokens, ${2 * UPDATES} exact state updates`,
  );
}

if (!url) {
  console.error("INTERLOCK_PG_URL is not set: this check needs a PostgreSQL server (14+)");
  process.exit(1);
}
if (process.argv[3] === "child") await child(process.argv[4]);
else await parent();
