// A CLI command that refuses to run twice at once, and says who is running it.
//
//   node --import tsx examples/cli-single-instance.ts deploy production &
//   node --import tsx examples/cli-single-instance.ts deploy staging
//
// The second run finds the lock taken, reads the holder record the first run wrote into
// the lock file, and exits with status 1 naming it. If the first run is killed (even
// with SIGKILL) the kernel frees the lock at once: no stale lock file to delete by hand.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { readLockHolder, tryAcquireFileLock } from "interlock";

const [command = "deploy", target = "production"] = process.argv.slice(2);
const lockPath = join(process.env.LOCK_DIR ?? tmpdir(), `mycli-${command}.lock`);

const lock = await tryAcquireFileLock(lockPath, {
  holder: { purpose: `${command} ${target}`, argv: process.argv.slice(2) },
});
if (lock === undefined) {
  const holder = await readLockHolder(lockPath);
  const who = holder
    ? `pid ${holder.pid} on ${holder.hostname} (${holder.purpose}), for ${Math.round((Date.now() - holder.acquiredAt) / 1000)} s`
    : "another process (no holder record)";
  console.error(`${command} is already running: ${who}`);
  process.exit(1);
}

await using _ = lock;
console.log(`${command} ${target}: running as pid ${process.pid}`);
await sleep(Number(process.env.WORK_MS ?? 5_000)); // the slow part
console.log(`${command} ${target}: done`);

// Output:
// deploy is already running: pid <pid> on <host> (deploy production), for <n> s
