// A TypeScript consumer compiled to CommonJS (module: nodenext, .cts): the `require`
// condition of the exports map and its .d.cts types.
import { join } from "node:path";
import { acquireFileLock, KeyedMutex, type LockHolder, readLockHolder } from "interlock";

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const path = join(dir, "cts.lock");
  const lock = await acquireFileLock(path, { mode: "exclusive" });
  const holder: LockHolder | undefined = await readLockHolder(path);
  await lock.release();
  const keys = new KeyedMutex<string>();
  await keys.runExclusive("k", () => undefined);
  console.log(`ok ${holder?.pid === process.pid} ${keys.size}`);
}

void main();
