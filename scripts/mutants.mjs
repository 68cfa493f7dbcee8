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
  // git (src/git/): each names the tests that must notice.
  {
    name: "git: drop the old value (unconditional update-ref)",
    file: "src/git/update-ref.ts",
    from: "const old = u.expectedOid ?? repo.zeroOid;",
    to: 'const old = ""; // in -z mode: no check',
    tests: ["test/git/update-ref.test.ts", "test/git/advance-ref.prop.test.ts"],
  },
  {
    name: "git: reuse the commit built on the stale parent on retry",
    file: "src/git/advance-ref.ts",
    from: "const oid = builtOid(repo, await p.build(current, { attempt, signal }));",
    to: "var stale; const oid = (stale ??= builtOid(repo, await p.build(current, { attempt, signal })));",
    tests: ["test/git/advance-ref.test.ts", "test/git/advance-ref.prop.test.ts"],
  },
  {
    name: "git: updateRefs applied one by one",
    file: "src/git/update-ref.ts",
    from: "return openRepo(cwd).then((repo) => transaction(repo, updates, message));",
    to: "return openRepo(cwd).then(async (repo) => { for (const u of updates) await transaction(repo, [u], message); });",
    tests: ["test/git/update-refs-atomic.test.ts"],
  },
  {
    name: "git: a 40-zero id for must-not-exist in SHA-256 repositories",
    file: "src/git/repo.ts",
    from: 'zeroOid: "0".repeat(oidLength),',
    to: 'zeroOid: "0".repeat(40),',
    tests: ["test/git/update-ref.test.ts", "test/git/advance-ref.test.ts"],
  },
  {
    name: "git: advanceRef's lock under the worktree's own git dir (not shared)",
    file: "src/git/advance-ref.ts",
    from: "lock = await acquireFileLock(refLockPath(repo.commonDir, ref), {",
    to: "lock = await acquireFileLock(refLockPath(repo.gitDir, ref), {",
    tests: ["test/git/advance-ref.test.ts"],
  },
  {
    name: "git: advanceRef takes no lock",
    file: "src/git/advance-ref.ts",
    from: "lock: o.lock !== false,",
    to: "lock: false,",
    tests: ["test/git/advance-ref.test.ts", "test/git/advance-ref.stress.test.ts"],
  },
  {
    name: "git: a busy git ref lock is not retried",
    file: "src/git/advance-ref.ts",
    from: "    err instanceof RefNotFoundError ||\n    err instanceof RefLockedError",
    to: "    err instanceof RefNotFoundError",
    tests: ["test/git/advance-ref.test.ts"],
  },
  {
    name: "git: messages in the user's language (no LC_ALL=C)",
    file: "src/git/run-git.ts",
    from: 'env.LC_ALL = "C";',
    to: "",
    tests: ["test/git/git-environment.test.ts"],
  },
];

// `npm run test:mutants -- git ids` runs only the mutants whose name or file mentions a word.
const wanted = process.argv.slice(2);
const selected = mutants.filter(
  (m) => wanted.length === 0 || wanted.some((w) => m.name.includes(w) || m.file.includes(w)),
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
    const file = join(dir, m.file);
    const text = readFileSync(file, "utf8");
    if (!text.includes(m.from)) throw new Error(`mutant "${m.name}" no longer applies`);
    writeFileSync(file, text.replace(m.from, m.to));
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
