// In-process primitives against their npm peers, every row measured in this one run.
import { createRequire } from "node:module";
import AsyncLock from "async-lock";
import { Mutex as AsyncMutex, Semaphore as AsyncMutexSemaphore } from "async-mutex";
import { RWLock as AsyncRWLock } from "async-rwlock";
import { Sema } from "async-sema";
import AwaitLock from "await-lock";
import { KeyedMutex, Mutex, RWLock, Semaphore } from "interlock";
import { compare, fmt, printTable } from "./lib.js";

const require = createRequire(import.meta.url);
const mutexifyPromise = require("mutexify/promise") as () => () => Promise<() => void>;
const RwLockCb = require("rwlock") as new () => {
  readLock(cb: (release: () => void) => void): void;
  writeLock(cb: (release: () => void) => void): void;
};

const BATCH = 1000;

async function uncontended(): Promise<void> {
  const m = new Mutex();
  const am = new AsyncMutex();
  const al = new AsyncLock();
  const aw = new AwaitLock();
  const mx = mutexifyPromise();
  await compare("Mutex, uncontended acquire + release (ops/s)", [
    {
      name: "interlock Mutex",
      ops: BATCH,
      fn: async () => {
        for (let i = 0; i < BATCH; i++) (await m.acquire()).release();
      },
    },
    {
      name: "await-lock",
      ops: BATCH,
      fn: async () => {
        for (let i = 0; i < BATCH; i++) {
          await aw.acquireAsync();
          aw.release();
        }
      },
    },
    {
      name: "mutexify/promise",
      ops: BATCH,
      fn: async () => {
        for (let i = 0; i < BATCH; i++) (await mx())();
      },
    },
    {
      name: "async-lock",
      ops: BATCH,
      fn: async () => {
        for (let i = 0; i < BATCH; i++) await al.acquire("k", async () => {});
      },
    },
    {
      name: "async-mutex",
      ops: BATCH,
      fn: async () => {
        for (let i = 0; i < BATCH; i++) (await am.acquire())();
      },
    },
    {
      // Not a lock: the floor for any API whose acquire resolves to a handle object.
      // Resolving a promise with an object costs V8 a `then` lookup that resolving with
      // `undefined` (await-lock) skips; interlock sits at this floor.
      name: "reference: await Promise.resolve({release}), no lock",
      ops: BATCH,
      fn: async () => {
        for (let i = 0; i < BATCH; i++) (await Promise.resolve(new FloorHandle())).release();
      },
    },
  ]);
}

class FloorHandle {
  released = false;
  release(): void {
    this.released = true;
  }
}

/** `workers` tasks each doing `per` lock/`await Promise.resolve()`/unlock rounds. */
function contended(
  lock: () => Promise<unknown>,
  unlock: (h: any) => void,
  workers = 100,
  per = 10,
): () => Promise<void> {
  return async () => {
    const worker = async () => {
      for (let i = 0; i < per; i++) {
        const h = await lock();
        await Promise.resolve();
        unlock(h);
      }
    };
    const all: Promise<void>[] = [];
    for (let w = 0; w < workers; w++) all.push(worker());
    await Promise.all(all);
  };
}

async function contendedMutex(): Promise<void> {
  const m = new Mutex();
  const am = new AsyncMutex();
  const aw = new AwaitLock();
  const mx = mutexifyPromise();
  const al = new AsyncLock({ maxPending: 10_000 });
  const alRound = async () => {
    for (let i = 0; i < 10; i++) await al.acquire("k", () => Promise.resolve());
  };
  await compare("Mutex, 100 waiters contending, `await Promise.resolve()` inside (ops/s)", [
    {
      name: "interlock Mutex",
      ops: BATCH,
      fn: contended(
        () => m.acquire(),
        (h) => h.release(),
      ),
    },
    {
      name: "await-lock",
      ops: BATCH,
      fn: contended(
        () => aw.acquireAsync(),
        () => aw.release(),
      ),
    },
    { name: "mutexify/promise", ops: BATCH, fn: contended(mx, (release) => release()) },
    {
      name: "async-lock",
      ops: BATCH,
      fn: () => Promise.all(Array.from({ length: 100 }, alRound)),
    },
    {
      name: "async-mutex",
      ops: BATCH,
      fn: contended(
        () => am.acquire(),
        (release) => release(),
      ),
    },
  ]);
}

async function semaphore(): Promise<void> {
  const s = new Semaphore(4);
  const sema = new Sema(4);
  const am = new AsyncMutexSemaphore(4);
  await compare("Semaphore(4), 100 tasks contending (ops/s)", [
    {
      name: "interlock Semaphore",
      ops: BATCH,
      fn: contended(
        () => s.acquire(),
        (h) => h.release(),
      ),
    },
    {
      name: "async-sema",
      ops: BATCH,
      fn: contended(
        () => sema.acquire(),
        () => sema.release(),
      ),
    },
    {
      name: "async-mutex Semaphore",
      ops: BATCH,
      fn: contended(
        () => am.acquire(),
        ([, release]) => release(),
      ),
    },
  ]);
}

async function keyed(): Promise<void> {
  const TASKS = 10_000;
  const KEYS = 1000;
  const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
  const km = new KeyedMutex<string>();
  const al = new AsyncLock({ maxPending: TASKS });
  await compare("KeyedMutex, 10k tasks over 1000 keys (ops/s)", [
    {
      name: "interlock KeyedMutex",
      ops: TASKS,
      fn: async () => {
        const all: Promise<void>[] = [];
        for (let i = 0; i < TASKS; i++) {
          all.push(
            km.acquire(keys[i % KEYS]!).then(async (h) => {
              await Promise.resolve();
              h.release();
            }),
          );
        }
        await Promise.all(all);
      },
    },
    {
      name: "async-lock",
      ops: TASKS,
      fn: async () => {
        const all: Promise<void>[] = [];
        for (let i = 0; i < TASKS; i++) {
          all.push(al.acquire(keys[i % KEYS]!, () => Promise.resolve()));
        }
        await Promise.all(all);
      },
    },
  ]);
}

async function readWrite(): Promise<void> {
  const TASKS = 200;
  const PER = 5;
  // Deterministic 90/10 mix: every tenth operation is a write.
  const isWrite = (t: number, i: number) => (t * PER + i) % 10 === 0;
  const ours = new RWLock();
  const cb = new RwLockCb();
  const arw = new AsyncRWLock();
  const run = (op: (write: boolean) => Promise<void>) => async () => {
    const all: Promise<void>[] = [];
    for (let t = 0; t < TASKS; t++) {
      all.push(
        (async () => {
          for (let i = 0; i < PER; i++) await op(isWrite(t, i));
        })(),
      );
    }
    await Promise.all(all);
  };
  await compare("RWLock, 200 tasks, 90% reads / 10% writes (ops/s)", [
    {
      name: "interlock RWLock",
      ops: TASKS * PER,
      fn: run(async (write) => {
        const h = await (write ? ours.writeLock() : ours.readLock());
        await Promise.resolve();
        h.release();
      }),
    },
    {
      name: "rwlock",
      ops: TASKS * PER,
      fn: run(async (write) => {
        const release = await new Promise<() => void>((resolve) =>
          write ? cb.writeLock(resolve) : cb.readLock(resolve),
        );
        await Promise.resolve();
        release();
      }),
    },
    {
      name: "async-rwlock",
      ops: TASKS * PER,
      fn: run(async (write) => {
        await (write ? arw.writeLock() : arw.readLock());
        await Promise.resolve();
        arw.unlock();
      }),
    },
  ]);
}

async function heapAfterKeys(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    console.log("\n(heap row skipped: run with --expose-gc, as `npm run bench` does)");
    return;
  }
  const N = 1_000_000;
  const measure = async (use: (key: string) => Promise<void>) => {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < N; i++) await use(`distinct-key-${i}`);
    gc();
    return Math.max(0, process.memoryUsage().heapUsed - before);
  };
  const km = new KeyedMutex<string>();
  const ours = await measure(async (k) => (await km.acquire(k)).release());
  const al = new AsyncLock();
  const theirs = await measure((k) => al.acquire(k, async () => {}));
  const keep = [km, al]; // both stay reachable until after the second gc
  console.log("\n### Heap retained after 1,000,000 distinct keys, each locked once (gc'd)");
  console.log("| contender | bytes retained | keys still tracked |");
  console.log("|---|---:|---:|");
  console.log(`| interlock KeyedMutex | ${fmt(ours)} | ${km.size} |`);
  console.log(
    `| async-lock | ${fmt(theirs)} | ${Object.keys((al as unknown as { queues: object }).queues).length} |`,
  );
  void keep;
}

export default async function run(): Promise<void> {
  await uncontended();
  await contendedMutex();
  await semaphore();
  await keyed();
  await readWrite();
  await heapAfterKeys();
}

export { printTable };
