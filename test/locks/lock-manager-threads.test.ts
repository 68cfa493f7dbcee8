// LockManager between the worker threads of one process: each thread is its own client
// (its own queue, its own client id), and threads exclude each other through the kernel
// like processes do.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { LockManager, LockStealError } from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LocksClient } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const newTempDir = useTempDir();
let dir: string;
let locks: LockManager;

beforeEach(() => {
  dir = newTempDir();
  locks = new LockManager({ dir });
});

const start = (n: number) => Promise.all(Array.from({ length: n }, () => LocksClient.thread(dir)));

describe("LockManager across worker threads", () => {
  const threads = stress ? 8 : 4;
  const each = stress ? 200 : 25;

  it(`${threads} threads × ${each} increments through request() lose none (unlocked loses some)`, async () => {
    const workers = await start(threads);
    expect(new Set(workers.map((w) => w.clientId)).size).toBe(threads);
    expect(workers.every((w) => w.pid === process.pid)).toBe(true);
    const counter = join(newTempDir(), "counter");
    writeFileSync(counter, "0");
    await Promise.all(
      workers.map((w) =>
        w.run({ op: "increment", name: "counter", counter, count: each, locked: true }),
      ),
    );
    expect(Number(readFileSync(counter, "utf8"))).toBe(threads * each);
    writeFileSync(counter, "0");
    await Promise.all(
      workers.map((w) =>
        w.run({ op: "increment", name: "counter", counter, count: each, locked: false }),
      ),
    );
    const unlocked = Number(readFileSync(counter, "utf8"));
    console.log(
      `negative control, no lock: ${threads * each - unlocked} of ${threads * each} lost`,
    );
  }, 60_000);

  it("the main thread's query() sees a worker's holder and another worker's waiter; steal is refused", async () => {
    const [holder, waiter] = await start(2);
    const h = await holder!.hold("deploy");
    await h.granted;
    const w = await waiter!.hold("deploy", { mode: "shared" });
    const snap = await locks.query();
    expect(snap.held).toEqual([
      expect.objectContaining({ mode: "exclusive", pid: process.pid, clientId: holder!.clientId }),
    ]);
    expect(snap.pending).toEqual([
      expect.objectContaining({ mode: "shared", pid: process.pid, clientId: waiter!.clientId }),
    ]);
    // Another thread is another client: its lock cannot be stolen from here.
    await expect(locks.request("deploy", { steal: true }, () => {})).rejects.toBeInstanceOf(
      LockStealError,
    );
    await h.release();
    await w.granted;
    expect((await locks.query()).held).toEqual([
      expect.objectContaining({ mode: "shared", clientId: waiter!.clientId }),
    ]);
    await w.release();
    expect(await locks.query()).toEqual({ held: [], pending: [] });
  }, 30_000);

  it("shared holders in two threads overlap", async () => {
    const [a, b] = await start(2);
    const sa = await a!.hold("index", { mode: "shared" });
    const sb = await b!.hold("index", { mode: "shared" });
    await Promise.all([sa.granted, sb.granted]);
    expect((await locks.query()).held.map((e) => e.clientId).sort()).toEqual(
      [a!.clientId, b!.clientId].sort(),
    );
    await Promise.all([sa.release(), sb.release()]);
  }, 30_000);
});
