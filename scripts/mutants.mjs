// Breaks one guarantee at a time in a scratch copy of the repo and checks that the
// in-process test suite notices. `npm run test:mutants`; exits 1 if a mutant survives.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
// The fast in-process suite; a mutant of another capability names its own tests.
const inProcess = [
  "test/contract.test.ts",
  "test/mutex.test.ts",
  "test/semaphore.test.ts",
  "test/keyed-mutex.test.ts",
  "test/rw-lock.test.ts",
  "test/internal",
  "test/mutex.prop.test.ts",
  "test/semaphore.prop.test.ts",
  "test/keyed-mutex.prop.test.ts",
  "test/rw-lock.prop.test.ts",
  "test/rw-lock.model.prop.test.ts",
];

// Each mutant: the file it edits, the exact text it replaces (it must still apply), and
// optionally `tests`, the test files that must notice (default: the in-process suite).
// A mutant that needs several coordinated edits lists them as `edits: [{file, from, to}]`.
const pgLock = "src/postgres/lock-table.ts";
const mutants = [
  {
    name: "LIFO queue (newest waiter first)",
    file: "src/internal/wait-queue.ts",
    from: "      w.prev = this.tail;\n      this.tail.next = w;\n      this.tail = w;",
    to: "      w.next = this.head!.next;\n      if (w.next) w.next.prev = w; else this.tail = w;\n      w.prev = this.head;\n      this.head!.next = w;",
  },
  {
    name: "abort/timeout does not unlink the waiter (ghost waiter)",
    file: "src/internal/wait-queue.ts",
    from: "    const assigned = w.weight - w.need;\n    this.unlink(w);",
    to: "    const assigned = 0;",
  },
  {
    name: "reader-preferring RWLock (readers join while readers hold)",
    file: "src/rw-lock.ts",
    from: "  readLock(options?: AcquireOptions): Promise<Releaser> {\n",
    to: "  readLock(options?: AcquireOptions): Promise<Releaser> {\n    if (this.readers > 0) { this.#queue.available--; return Promise.resolve(rwFactory(this.#queue, 1)); }\n",
  },
  {
    name: "tryAcquire barges past queued waiters",
    file: "src/internal/wait-queue.ts",
    from: "  tryAcquire(weight: number): H | undefined {\n    if (this.head === null && this.available >= weight) {",
    to: "  tryAcquire(weight: number): H | undefined {\n    if (this.available >= weight || (this.head !== null && this.head.weight - this.head.need >= weight)) {\n      if (this.head !== null && this.available < weight) { this.head.need += weight; return this.makeHandle(this, weight); }",
  },
  {
    name: "release frees permits twice (no idempotence)",
    file: "src/internal/permit.ts",
    from: "    if (q === null) return;\n    this.queue = null;\n    q.release(this.weight);",
    to: "    if (q === null) return;\n    q.release(this.weight);",
  },
  {
    name: "keyed pool never drops idle keys",
    file: "src/internal/keyed-pool.ts",
    from: "    if (this.queues.get(queue.key as K) === queue) this.queues.delete(queue.key as K);",
    to: "    void queue;",
  },
  {
    name: "acquireMany takes keys in caller order",
    file: "src/keyed-mutex.ts",
    from: "canonicalKeys(keys)",
    to: "[...new Set(keys)]",
  },
  {
    name: "semaphore first-fit (small waiters overtake a large head)",
    file: "src/internal/wait-queue.ts",
    from: "      if (n < w.need) {\n        w.need -= n;\n        return;\n      }",
    to: "      if (n < w.need) {\n        const nx = w.next; if (nx !== null && n >= nx.need) { n -= nx.need; nx.need = 0; this.unlink(nx); nx.resolve(this.makeHandle(this, nx.weight)); continue; }\n        w.need -= n;\n        return;\n      }",
  },
  {
    name: "postgres: no heartbeat (a running holder loses its lock after one lease)",
    file: "src/postgres/session.ts",
    from: "    if (now < this.#nextBeat) return;",
    to: "    return;",
    tests: ["test/postgres/lock-lease.test.ts"],
  },
  {
    name: "postgres: no local lease deadline (a paused holder believes it still holds)",
    file: "src/postgres/session.ts",
    from: "if (this.#holds > 0 && now >= this.deadline) {",
    to: "if (this.#holds > 0 && now >= this.deadline + 1e9) {",
    tests: ["test/postgres/lock-lease.test.ts", "test/postgres/lock-loss.test.ts"],
  },
  {
    name: "postgres: no server lease (idle_session_timeout off: a paused holder keeps the lock)",
    file: "src/postgres/session.ts",
    from: "SELECT set_config('idle_session_timeout', $1, false)",
    to: "SELECT set_config('idle_session_timeout', '0', false) || $1",
    tests: ["test/postgres/lock-loss.test.ts"],
  },
  {
    name: "postgres: token not persisted (unlogged sequence, reset by a crash)",
    file: "src/postgres/schema.ts",
    from: "CREATE SEQUENCE ",
    to: "CREATE UNLOGGED SEQUENCE ",
    tests: ["test/postgres/server-restart.test.ts"],
  },
  {
    name: "postgres: token not persisted (an in-memory counter per process)",
    file: pgLock,
    from: "    const lock = this.#hold(entry, r, Number(token), local);",
    to: "    const lock = this.#hold(entry, r, ((globalThis as any).__t = ((globalThis as any).__t ?? 0) + 1), local);",
    tests: ["test/postgres/lock-counter.stress.test.ts", "test/postgres/server-restart.test.ts"],
  },
  {
    name: "postgres: two holders on one session (a second exclusive request rides the held session)",
    edits: [
      {
        file: pgLock,
        from: "        ? this.#local.writeLock(r.key, { signal: r.signal, timeoutMs: r.timeoutMs })",
        to: "        ? this.#local.readLock(r.key, { signal: r.signal, timeoutMs: r.timeoutMs })",
      },
      {
        file: pgLock,
        from: 'if (entry.unlocking || entry.mode !== "shared" || r.mode !== "shared") {',
        to: "if (entry.unlocking) {",
      },
    ],
    tests: ["test/postgres/acquire-lock.test.ts", "test/postgres/lock-schedule.prop.test.ts"],
  },
  {
    name: "postgres: session reused while it holds (parked without its unlock)",
    file: pgLock,
    from: "const ok = (await session.query(q)).rows[0].ok;",
    to: "const ok = true;",
    tests: ["test/postgres/acquire-lock.test.ts"],
  },
  {
    name: "postgres: abort race not undone (the granted session is kept)",
    file: pgLock,
    from: "      await this.#abandon(entry, token !== null);\n      throw new AbortError(r.signal.reason);",
    to: "      entry.refs--;\n      this.#entries.delete(entry.key);\n      throw new AbortError(r.signal.reason);",
    tests: ["test/postgres/lock-abort-race.test.ts"],
  },
  {
    name: "postgres: abort race ignored (a waiter whose signal aborted is granted)",
    file: pgLock,
    from: "    const received = performance.now();\n    if (r.signal?.aborted) {",
    to: "    const received = performance.now();\n    if (r.signal?.aborted && token === null) {",
    tests: ["test/postgres/lock-abort-race.test.ts"],
  },
  {
    name: "postgres: stale fence not checked",
    file: "src/postgres/state-store.ts",
    from: "if (fence !== undefined && newest > fence) throw",
    to: "if (fence !== undefined && newest > fence + 1e15) throw",
    tests: ["test/postgres/state-store.test.ts"],
  },
  {
    name: "postgres: read-modify-write without the row lock",
    file: "src/postgres/state-store.ts",
    from: "WHERE ns = $1 AND key = $2 FOR UPDATE`,",
    to: "WHERE ns = $1 AND key = $2`,",
    tests: ["test/postgres/state-store.test.ts"],
  },
  {
    name: "postgres: registry reclaims entries of live owners",
    file: "src/postgres/registry.ts",
    from: "WHERE pg_try_advisory_xact_lock(o.k))",
    to: "WHERE pg_try_advisory_xact_lock(o.k) OR true)",
    tests: ["test/postgres/registry.test.ts", "test/postgres/registry-reclaim.test.ts"],
  },
  {
    name: "postgres: registry commit without its claim check",
    file: "src/postgres/registry.ts",
    from: "WHERE ns = $1 AND registry = $2 AND id = $3 AND claim = $4::bigint AND status = 'pending'\n            RETURNING *`,",
    to: "WHERE ns = $1 AND registry = $2 AND id = $3 AND $4::bigint > 0\n            RETURNING *`,",
    tests: ["test/postgres/registry.test.ts"],
  },
  {
    name: "postgres: shared readers of one process overtake a queued writer",
    file: "src/postgres/lock-statements.ts",
    from: "SELECT CASE WHEN NOT EXISTS (",
    to: "SELECT CASE WHEN true OR NOT EXISTS (",
    tests: ["test/postgres/acquire-lock.test.ts"],
  },
];

// `npm run test:mutants -- git ids` runs only the mutants whose name or file mentions a word.
const wanted = process.argv.slice(2);
const editsOf = (m) => m.edits ?? [{ file: m.file, from: m.from, to: m.to }];
const selected = mutants.filter(
  (m) =>
    wanted.length === 0 ||
    wanted.some((w) => m.name.includes(w) || editsOf(m).some((e) => e.file.includes(w))),
);
let survived = 0;
for (const m of selected) {
  const dir = mkdtempSync(join(tmpdir(), "interlock-mutant-"));
  try {
    for (const p of [
      "src",
      "test",
      "examples",
      "package.json",
      "tsconfig.json",
      "vitest.config.ts",
    ]) {
      cpSync(join(root, p), join(dir, p), { recursive: true });
    }
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
    for (const e of editsOf(m)) {
      const file = join(dir, e.file);
      const text = readFileSync(file, "utf8");
      if (!text.includes(e.from)) throw new Error(`mutant "${m.name}" no longer applies`);
      writeFileSync(file, text.replace(e.from, e.to));
    }
    const tests = m.tests ?? inProcess;
    const r = spawnSync("npx", ["vitest", "run", "--typecheck.enabled=false", ...tests], {
      cwd: dir,
      encoding: "utf8",
      timeout: 120_000,
    });
    const failed = (r.stdout + r.stderr).match(/Tests\s+.*?(\d+) failed/)?.[1];
    const killed = r.status !== 0;
    if (!killed) survived++;
    console.log(
      `${killed ? "killed  " : "SURVIVED"}  ${m.name}${failed ? ` (${failed} tests failed)` : ""}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(survived === 0 ? 0 : 1);
