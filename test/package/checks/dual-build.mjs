// Both builds in one process (an ESM app whose dependency `require`s interlock): one
// in-process queue per lock file, so requests through either build are granted in
// call order instead of racing each other on the kernel.
import { createRequire } from "node:module";
import { join } from "node:path";
import * as esm from "interlock";
import { assert, runSteps } from "./lib/harness.mjs";

const cjs = createRequire(import.meta.url)("interlock");
const dir = process.argv[2];

await runSteps("dual build", [
  [
    "the two builds are separate module instances",
    () => assert(esm.acquireFileLock !== cjs.acquireFileLock, "only one build was loaded"),
  ],
  [
    "one path's file lock requested alternately through each build is granted in call order",
    async () => {
      const path = join(dir, "dual.lock");
      const first = await esm.acquireFileLock(path);
      const granted = [];
      const waits = [];
      for (let i = 0; i < 8; i++) {
        const lib = i % 2 === 0 ? cjs : esm;
        waits.push(
          lib.acquireFileLock(path, { timeoutMs: 20_000 }).then(async (lock) => {
            granted.push(i);
            await new Promise((r) => setImmediate(r));
            await lock.release();
          }),
        );
      }
      await first.release();
      await Promise.all(waits);
      assert(granted.join() === "0,1,2,3,4,5,6,7", `granted in order ${granted.join()}`);
    },
  ],
  [
    "writeFileAtomic through both builds applies writes to one path in call order",
    async () => {
      const path = join(dir, "dual.txt");
      const writes = [];
      for (let i = 0; i < 20; i++) {
        writes.push((i % 2 === 0 ? cjs : esm).writeFileAtomic(path, String(i), { fsync: false }));
      }
      await Promise.all(writes);
      const { readFileSync } = await import("node:fs");
      assert(readFileSync(path, "utf8") === "19", "the last write called is not the last applied");
    },
  ],
]);
