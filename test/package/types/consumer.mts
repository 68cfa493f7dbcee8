// A TypeScript consumer of the installed package (module: nodenext, ESM): type-checked
// against the shipped .d.ts, then compiled and run. `await using` releases file locks.
import { join } from "node:path";
import {
  acquireFileLock,
  type FileLockHandle,
  InterlockError,
  LockTimeoutError,
  Mutex,
  readLockHolder,
  StateFile,
  writeFileAtomic,
} from "interlock";

const dir = process.argv[2]!;
const path = join(dir, "ts.lock");

{
  await using lock: FileLockHandle = await acquireFileLock(path, { holder: { purpose: "ts" } });
  const holder = await readLockHolder(path);
  if (holder?.pid !== process.pid || lock.mode !== "exclusive") throw new Error("not held");
}
// Released by `await using`: free again at once.
const again = await acquireFileLock(path, { timeoutMs: 0 });
await again.release();

const mutex = new Mutex();
{
  using _ = await mutex.acquire();
  if (!mutex.isLocked) throw new Error("using did not hold the mutex");
}
if (mutex.isLocked) throw new Error("using did not release the mutex");

const state = new StateFile(join(dir, "s.json"), { defaults: { runs: 0, names: [] as string[] } });
const next = await state.update((s) => ({ runs: s.runs + 1, names: [...s.names, "ts"] }));
const runs: number = next.runs;
await writeFileAtomic(join(dir, "out.txt"), `${runs}\n`);

try {
  await mutex.runExclusive(() => mutex.acquire({ timeoutMs: 0 }));
} catch (err) {
  if (!(err instanceof LockTimeoutError) || !(err instanceof InterlockError)) throw err;
  const code: "ELOCKTIMEOUT" = err.code;
  console.log(`ok ${code} ${runs}`);
}

// Type-level only (never called): options are an object, not a number.
export function misuse(): void {
  // @ts-expect-error: a number where the options object belongs
  void mutex.acquire(1000);
}
