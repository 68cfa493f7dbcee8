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
const pgLmRequest = "src/postgres/lock-manager-request.ts";
const pgLmSnapshot = "src/postgres/lock-manager-snapshot.ts";
const pgLm = "test/postgres/lock-manager.test.ts";
const pgLmProcesses = "test/postgres/lock-manager-cross-process.test.ts";
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
    name: "ESM build loads fs-ext through the bundler's require shim (package tier)",
    file: "src/file-lock/load-fs-ext.ts",
    from: "    const req = createRequire(import.meta.url);",
    to: '    const req = typeof require === "function" ? require : createRequire(import.meta.url);',
    tests: ["test/package/package.test.ts"],
  },
  {
    name: "each build keeps its own process-wide state (dual-package hazard, package tier)",
    file: "src/internal/process-state.ts",
    from: "  if (!(name in s)) s[name] = make();",
    to: "  if (!(name in s) || true) return make();",
    tests: ["test/package/package.test.ts"],
  },
  // --- ids (issue 9) ---
  {
    name: "ids: IdAllocator claims after an await (check-then-claim across a microtask)",
    file: "src/ids/id-allocator.ts",
    from: "    return new ClaimReservation(table, id, table.reserve(id));",
    to: "    const r = new ClaimReservation(table, id, 0);\n    void Promise.resolve().then(() => table.reserve(id));\n    return r;",
    tests: ["test/ids/id-allocator.test.ts", "test/ids/allocators.prop.test.ts"],
  },
  {
    name: "ids: FileRegistry chooses the id and slot from a read before taking the lock",
    file: "src/ids/file-registry.ts",
    from: "    await this.#state.update(\n      (current) => {\n        const state = checkState(current, this.path);\n        const dropped = dropAbandoned(state, false);\n        try {\n          placed = place(state, choose(state, request, this.#format, this.path), request);",
    to: "    const seen = checkState(await this.#state.read(), this.path);\n    dropAbandoned(seen, false);\n    const early = choose(seen, request, this.#format, this.path);\n    await this.#state.update(\n      (current) => {\n        const state = checkState(current, this.path);\n        const dropped = dropAbandoned(state, false);\n        try {\n          placed = place(state, early, request);",
    tests: ["test/ids/file-registry.test.ts", "test/ids/file-registry-cross-process.test.ts"],
  },
  {
    name: "ids: FileRegistry holds its lock through provisioning (from reserve until commit/abort)",
    file: "src/ids/file-registry.ts",
    from: "    if (refused !== undefined) throw refused.error;\n    return new RegistryPendingEntry(this.#ops, placed!.id, placed!.slot, placed!.token);",
    to: '    if (refused !== undefined) throw refused.error;\n    const { acquireFileLock } = await import("../file-lock/index.js");\n    const held = await acquireFileLock(this.lockPath, { timeoutMs: request.timeoutMs });\n    const pending = new RegistryPendingEntry(this.#ops, placed!.id, placed!.slot, placed!.token);\n    for (const m of ["commit", "abort"]) {\n      const f = pending[m].bind(pending);\n      pending[m] = async (...a) => { await held.release(); return f(...a); };\n    }\n    return pending;',
    tests: ["test/ids/file-registry-short-lock.test.ts"],
  },
  {
    name: "ids: reclaim drops active entries of dead owners too",
    file: "src/ids/reclaim.ts",
    from: '  if (e.status !== "pending") return false;\n',
    to: "",
    tests: ["test/ids/file-registry-reclaim.test.ts", "test/ids/file-registry.prop.test.ts"],
  },
  {
    name: "ids: reclaim skips the start-time check (a reused PID keeps a dead owner alive)",
    file: "src/ids/reclaim.ts",
    from: "isProcessAlive(owner.pid, owner.processStartTime)",
    to: "isProcessAlive(owner.pid)",
    tests: ["test/ids/file-registry-reclaim.test.ts", "test/ids/file-registry.prop.test.ts"],
  },
  {
    name: "ids: reclaim drops other hosts' pending entries without force",
    file: "src/ids/reclaim.ts",
    from: '  return state === "dead" || (force && state === "elsewhere");',
    to: '  return state === "dead" || state === "elsewhere";',
    tests: ["test/ids/file-registry-reclaim.test.ts", "test/ids/file-registry.prop.test.ts"],
  },
  {
    name: "ids: a stale release frees a reused id (in-process, no token check)",
    file: "src/ids/claim-table.ts",
    from: "    if (c === undefined || c.token !== token || c.committed) return false;",
    to: "    if (c === undefined || c.committed) return false;",
    tests: [
      "test/ids/id-allocator.test.ts",
      "test/ids/slot-allocator.test.ts",
      "test/ids/allocators.prop.test.ts",
    ],
  },
  {
    name: "ids: a stale commit takes over a reused id (in-process, no token check)",
    file: "src/ids/claim-table.ts",
    from: "    if (c === undefined || c.token !== token) return false;\n    c.committed = true;",
    to: "    if (c === undefined) return false;\n    c.committed = true;",
    tests: ["test/ids/id-allocator.test.ts", "test/ids/allocators.prop.test.ts"],
  },
  {
    name: "ids: a stale abort removes whoever holds the id now (FileRegistry matches by id only)",
    file: "src/ids/file-registry.ts",
    from: "findIndex((x) => x.id === id && x.token === token)",
    to: "findIndex((x) => x.id === id)",
    tests: ["test/ids/file-registry.test.ts", "test/ids/file-registry.prop.test.ts"],
  },
  {
    name: "ids: a lost reservation's commit resurrects or takes over the id (FileRegistry)",
    file: "src/ids/file-registry.ts",
    from: "        const e = state.entries.find((x) => x.id === id);\n        if (e === undefined || e.token !== token) throw this.#lost(id, e);",
    to: '        let e = state.entries.find((x) => x.id === id);\n        if (e === undefined) state.entries.push((e = { id, token, status: "pending", owner: { pid: process.pid, hostname: "" }, data: null, createdAt: 0 }));',
    tests: ["test/ids/file-registry.test.ts", "test/ids/file-registry.prop.test.ts"],
  },
  {
    name: "ids: SlotAllocator forgets freed slots below its search start (not lowest-free)",
    file: "src/ids/slot-allocator.ts",
    from: "      if (slot < this.#lowest) this.#lowest = slot;",
    to: "      void slot;",
    tests: ["test/ids/slot-allocator.test.ts", "test/ids/allocators.prop.test.ts"],
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
  // file locks and state files, hardened (issue 8)
  {
    name: "file locks: blocking open (a FIFO at the path freezes the event loop)",
    file: "src/file-lock/lock-file.ts",
    from: "const NONBLOCK = constants.O_NONBLOCK ?? 0;",
    to: "const NONBLOCK = 0;",
    tests: ["test/file-lock/file-lock-odd-paths.test.ts"],
  },
  {
    name: "file locks: a released holder's record is not marked released (stale record)",
    file: "src/file-lock/kernel.ts",
    from: "      futimesSync(fd, RELEASED_MARK_S, RELEASED_MARK_S);",
    to: "      futimesSync(fd, Date.now() / 1000, Date.now() / 1000);",
    tests: ["test/file-lock/read-lock-holder.test.ts"],
  },
  {
    name: "file locks: no writer gate (readers of other processes starve a writer)",
    file: "src/file-lock/acquisition.ts",
    from: "    if (!mayWait) return undefined;\n    if (!this.#gateHeld) {",
    to: "    if (!mayWait) return undefined;\n    if (false) {",
    tests: ["test/file-lock/file-lock-fairness.test.ts"],
  },
  {
    name: "file locks: tokens not counted on from the file",
    file: "src/file-lock/kernel.ts",
    from: "  const token = before.token + 1;",
    to: "  const token = 1;",
    tests: ["test/file-lock/file-lock-token.test.ts"],
  },
  {
    name: "StateFile: lossy UTF-8 decode",
    file: "src/atomic/state-file.ts",
    from: "    const bad = firstInvalidUtf8(raw);",
    to: "    const bad = -1;",
    tests: ["test/atomic/state-file-harden.test.ts"],
  },
  {
    name: "StateFile: commits values JSON cannot keep (Map, Set, NaN, ...)",
    file: "src/atomic/state-file.ts",
    from: "      if (this.#checkJson) {",
    to: "      if (false) {",
    tests: ["test/atomic/state-file-harden.test.ts"],
  },
  {
    name: "StateFile: commits without checking the lock is still held",
    file: "src/atomic/state-file.ts",
    from: "      lock.assertHeld();",
    to: "",
    tests: ["test/atomic/state-file-harden.test.ts"],
  },
  {
    name: "StateFile: fn under the lock ignores the signal",
    file: "src/atomic/state-file.ts",
    from: "Promise.resolve().then(() => fn(current)),\n        signal,",
    to: "Promise.resolve().then(() => fn(current)),\n        undefined,",
    tests: ["test/atomic/state-file-harden.test.ts"],
  },
  {
    name: "file locks: no wake-up, waiters only poll",
    file: "src/file-lock/file-watch.ts",
    from: "        for (const l of this.#listeners) l();",
    to: "        void this.#listeners;",
    tests: ["test/file-lock/file-lock-wake.test.ts"],
  },
  // --- the demo (issue 13) ---
  {
    name: "demo: a commit reviewed twice counts as reviewed",
    file: "examples/demo/tally.ts",
    from: "filter((h) => runs.get(h) === 1)",
    to: "filter((h) => (runs.get(h) ?? 0) >= 1)",
    tests: ["test/demo"],
  },
  {
    name: "demo: a registry entry counts for a session whoever owns it",
    file: "examples/demo/tally.ts",
    from: ' && e.status === "active" && e.pid === s.pid,',
    to: ' && e.status === "active",',
    tests: ["test/demo"],
  },
  {
    name: "demo: interlock's review triggers without the KeyedMutex (package tier)",
    file: "examples/demo/world.ts",
    from: ": perCommit.runExclusive(commit, () => review(commit, session)),",
    to: ": review(commit, session),",
    tests: ["test/package/examples.test.ts"],
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
  {
    name: "postgres locks: a waiter on the server leaves no record (query elsewhere misses it)",
    file: "src/postgres/lock-manager-statements.ts",
    from: "END\n        WHERE backend_pid = pg_backend_pid())\n    SELECT token FROM n`;",
    to: "END\n        WHERE false)\n    SELECT token FROM n`;",
    tests: [pgLm, pgLmProcesses],
  },
  {
    name: "postgres locks: requests queued in their process get no row (query elsewhere misses them)",
    file: pgLmRequest,
    from: "    const written = client.rows.insert(",
    to: "    const written = Promise.resolve() ?? client.rows.insert(",
    tests: [pgLm, pgLmProcesses],
  },
  {
    name: "postgres locks: rows believed without a session of their client in pg_locks (dead clients show)",
    file: pgLmSnapshot,
    from: "holders h ON h.backend_pid = l.pid\n          WHERE l.key = r.key AND h.client = r.client) END`;",
    to: "holders h ON true) OR true END`;",
    tests: [pgLmProcesses],
  },
  {
    name: "postgres locks: holds without a record yet are not shown",
    file: pgLmSnapshot,
    from: "lock_names n ON n.key = l.key",
    to: "lock_names n ON false",
    tests: [pgLmProcesses],
  },
  {
    name: "postgres locks: joiners of a shared hold get no row (other clients see one holder)",
    file: "src/postgres/lock-manager-statements.ts",
    from: "FROM j WHERE j.token IS NOT NULL",
    to: "FROM j WHERE false",
    tests: [pgLm],
  },
  {
    name: "postgres locks: a shared hold's first request still shows after it left (record cleared, not blanked)",
    file: pgLock,
    from: "joiners > 0 ? this.#tagSql.blankRecord(entry.key) : this.#sql.clearRecord(),",
    to: "this.#sql.clearRecord(),",
    tests: [pgLm],
  },
  {
    name: "postgres locks: a lock timeout that races the grant parks a session holding the lock",
    file: pgLock,
    from: "      await this.#abandon(entry, false, true);",
    to: "      await this.#abandon(entry);",
    tests: ["test/postgres/lock-timeout-race.test.ts"],
  },
  {
    name: "postgres locks: names not checked against the key (other namespaces and owner locks show)",
    file: pgLmSnapshot,
    from: "const name = storedNameOf(row.name, row.key, keyOf);",
    to: "const name = row.name;",
    tests: [pgLm],
  },
  {
    name: "postgres locks: an abandoned waiter's record is parked with its session",
    file: pgLock,
    from: "        await session.query(this.#sql.clearRecord(failed));",
    to: "        void failed;",
    tests: [pgLm],
  },
  {
    name: "postgres locks: a request that gave up keeps its row",
    file: pgLmRequest,
    from: "    row = req.client.rows.remove(req.seq);",
    to: "    void 0;",
    tests: [pgLm],
  },
  {
    name: "postgres locks: lock.token not the grant's fencing token (a per-client counter)",
    file: pgLmRequest,
    from: "new GrantedLock(req.q.name, req.mode, handle.token, handle)",
    to: "new GrantedLock(req.q.name, req.mode, req.seq, handle)",
    tests: [pgLmProcesses],
  },
  {
    name: "postgres locks: callback result not awaited before release",
    file: pgLmRequest,
    from: "        value.then(resolve as (v: unknown) => void, reject);",
    to: "        void value.then(undefined, reject);\n        resolve(undefined as never);",
    tests: [pgLm],
  },
  {
    name: "postgres locks: a lost lock's request resolves as if it had held throughout",
    file: pgLmRequest,
    from: "  await finish(req);\n  return result;",
    to: "  await finish(req)?.catch(ignore);\n  return result;",
    tests: [pgLm],
  },
  {
    name: "postgres locks: steal queues behind this client's waiters (nothing parked)",
    file: pgLmRequest,
    from: "    parked.push(r);\n    r.park?.abort(PARKED);",
    to: "    void PARKED;",
    tests: [pgLm],
  },
  {
    name: "postgres locks: steal ignores another client's holder (and waits for it)",
    file: pgLmSnapshot,
    from: "  if (rows[0]!.n === 0) return undefined;",
    to: "  if (rows[0]!.n >= 0) return undefined;",
    tests: [pgLm],
  },
  {
    name: "lock manager: lossy name encoding (every non-ASCII code unit the same)",
    file: "src/locks/lock-name.ts",
    from: 'padStart(4, "0")',
    to: 'padStart(4, "0").replace(/./g, "0")',
    tests: ["test/locks/lock-name.prop.test.ts"],
  },
  {
    name: "lock manager: names escape dir ('/' kept in lock file names)",
    file: "src/locks/lock-name.ts",
    from: "c === 0x5f || c === 0x2e || c === 0x2d",
    to: "c === 0x5f || c === 0x2e || c === 0x2d || c === 0x2f",
    tests: ["test/locks/lock-name.prop.test.ts"],
  },
  {
    name: "lock manager: case folded (names collide on case-insensitive file systems)",
    file: "src/locks/lock-name.ts",
    from: "    if (safe(c)) out += name[i];",
    to: "    if (safe(c | 0x20)) out += name[i]!.toLowerCase();",
    tests: ["test/locks/lock-name.prop.test.ts"],
  },
  {
    name: "lock manager: dead processes' registry entries shown in query",
    file: "src/locks/registry.ts",
    from: "  if (owner.hostname !== hostname()) return true;",
    to: '  if (owner.hostname !== "") return true;',
    tests: [
      "test/locks/lock-manager-registry.test.ts",
      "test/locks/lock-manager-cross-process.test.ts",
    ],
  },
  {
    name: "lock manager: waiters not registered (query elsewhere misses them)",
    file: "src/locks/request.ts",
    from: '      req.entryPath = writeEntry(req.q.dir, entryOf(req, "pending"));',
    to: "      void 0;",
    tests: [
      "test/locks/lock-manager-registry.test.ts",
      "test/locks/lock-manager-cross-process.test.ts",
    ],
  },
  {
    name: "lock manager: waiters registered eagerly (the uncontended request writes files)",
    file: "src/locks/request.ts",
    from: "  starting.add(req);\n",
    to: '  starting.add(req);\n  req.entryPath = writeEntry(req.q.dir, entryOf(req, "pending"));\n',
    tests: ["test/locks/lock-manager-registry.test.ts"],
  },
  {
    name: "lock manager: shared holders not registered",
    file: "src/locks/request.ts",
    from: "    req.entryPath =\n      req.entryPath === undefined\n        ? writeEntry(req.q.dir, entry)\n        : replaceEntry(req.entryPath, entry);",
    to: "    void entry;",
    tests: [
      "test/locks/lock-manager-registry.test.ts",
      "test/locks/lock-manager-cross-process.test.ts",
    ],
  },
  {
    name: "lock manager: other processes' exclusive holders missing from query",
    file: "src/locks/snapshot.ts",
    from: "    if (f?.clientId === client.clientId) continue;",
    to: "    if (f !== undefined) continue;",
    tests: ["test/locks/lock-manager-cross-process.test.ts"],
  },
  {
    name: "lock manager: callback result not awaited before release",
    file: "src/locks/request.ts",
    from: "      return await new Promise<Awaited<T>>((resolve, reject) => {",
    to: "      return new Promise<Awaited<T>>((resolve, reject) => {",
    tests: ["test/locks/lock-manager.test.ts"],
  },
  {
    name: "lock manager: an abort between the engine's grant and the callback is ignored",
    file: "src/locks/request.ts",
    from: "(attempt !== req.attempt || req.signal?.aborted)",
    to: "attempt !== req.attempt",
    tests: ["test/locks/lock-manager.test.ts"],
  },
  {
    name: "lock manager: steal queues behind this thread's waiters (nothing parked)",
    file: "src/locks/request.ts",
    from: "    parked.push(r);\n    r.park.abort(PARKED);",
    to: "    void PARKED;",
    tests: ["test/locks/lock-manager.test.ts"],
  },
  {
    name: "lock manager: lock.token not the engine's fencing token (a per-process counter)",
    file: "src/locks/request.ts",
    from: "token: handle.token",
    to: "token: req.seq",
    tests: ["test/locks/lock-manager-tokens.prop.test.ts"],
  },
  {
    name: "lock manager: records of long (hashed) names do not carry the name",
    file: "src/locks/request.ts",
    from: "  if (q.hashed) record.lockName = q.name;",
    to: "  void q;",
    tests: ["test/locks/lock-manager-cross-process.test.ts"],
  },
];

// Everything a build, a pack and the suite read (the package tier packs the copy).
const SHIPPED_AND_TESTS = [
  "src",
  "test",
  "examples",
  "docs",
  "scripts",
  "README.md",
  "LICENSE",
  "package.json",
  "tsconfig.json",
  "tsup.config.ts",
  "vitest.config.ts",
];

// `npm run test:mutants -- git ids` runs only the mutants whose name or file mentions a word.
const wanted = process.argv.slice(2);
const editsOf = (m) => m.edits ?? [{ file: m.file, from: m.from, to: m.to }];
const selected = mutants.filter(
  (m) =>
    wanted.length === 0 ||
    wanted.some((w) => m.name.includes(w) || editsOf(m).some((e) => e.file.includes(w))),
);
// Every edit must still apply to the code as it is: checked up front, so a stale mutant
// fails the run at once instead of after the mutants before it ran.
const stale = mutants.filter((m) =>
  editsOf(m).some((e) => !readFileSync(join(root, e.file), "utf8").includes(e.from)),
);
if (stale.length > 0) {
  console.error(
    `These mutants no longer apply (their code changed):\n  ${stale.map((m) => m.name).join("\n  ")}`,
  );
  process.exit(2);
}
let survived = 0;
for (const m of selected) {
  const dir = mkdtempSync(join(tmpdir(), "interlock-mutant-"));
  try {
    for (const p of SHIPPED_AND_TESTS) {
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
      // The package tier builds, packs, installs and starts a server first: minutes.
      timeout: m.timeoutMs ?? (tests.some((t) => t.startsWith("test/package")) ? 900_000 : 300_000),
    });
    const failed = (r.stdout + r.stderr).match(/Tests\s+.*?(\d+) failed/)?.[1];
    // A run cut short by the timeout proves nothing: it is reported, not counted as killed.
    const timedOut = r.error !== undefined || r.signal !== null;
    const killed = !timedOut && r.status !== 0;
    if (!killed) survived++;
    console.log(
      `${timedOut ? "TIMEOUT " : killed ? "killed  " : "SURVIVED"}  ${m.name}${failed ? ` (${failed} tests failed)` : ""}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(survived === 0 ? 0 : 1);
