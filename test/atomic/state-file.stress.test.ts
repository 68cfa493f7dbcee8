// Cross-process StateFile tests with real child processes. Small by default; set
// INTERLOCK_STRESS=1 for the sizes that make rare interleavings likely.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { sweepTempFiles } from "../../src/atomic/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { collect, runFixture, spawnFixture, waitForLine } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";

const newTempDir = useTempDir();
let dir: string;

beforeEach(() => {
  dir = newTempDir();
});

describe("StateFile across processes", () => {
  const processes = stress ? 8 : 4;
  const increments = stress ? 400 : 40;

  it(
    `${processes} processes × ${increments} increments end at exactly ${processes * increments}`,
    async () => {
      const p = join(dir, "counter.json");
      const runs = await Promise.all(
        Array.from({ length: processes }, () =>
          runFixture("atomic-state-worker", ["increment", p, String(increments)]),
        ),
      );
      for (const r of runs) expect(r.stdout.trim()).toBe("done");
      expect(JSON.parse(await readFile(p, "utf8"))).toEqual({ n: processes * increments });
      // No temp files left; the lock file and its writer gate stay, as documented.
      expect((await readdir(dir)).filter((n) => n !== "counter.json.lock.gate").sort()).toEqual([
        "counter.json",
        "counter.json.lock",
      ]);
    },
    stress ? 600_000 : 60_000,
  );

  const kills = stress ? 100 : 8;
  const lanes = 2;

  it(
    `SIGKILL at ${kills} random moments: the file always parses and is never older than a committed value`,
    async () => {
      // Each lane kills one looping updater after another on its own file. The child
      // reports every committed and every read value; after the kill, the file must
      // hold a complete version, at least the last one the child saw, and at most one
      // further commit (the update in flight when it died may or may not have landed).
      const lane = async (k: number) => {
        const p = join(dir, `lane${k}.json`);
        let floor = 0;
        for (let i = 0; i < kills / lanes; i++) {
          const child = spawnFixture("atomic-state-worker", ["loop", p]);
          const done = collect(child);
          await waitForLine(child, (l) => l.startsWith("committed"));
          // Random delays are only the source of randomness for the kill time.
          await new Promise((r) => setTimeout(r, Math.random() * 40));
          child.kill("SIGKILL");
          const r = await done;
          expect(r.signal).toBe("SIGKILL");
          const seen = r.stdout
            .split("\n")
            .filter((l) => /^(committed|read) \d+$/.test(l))
            .map((l) => Number(l.split(" ")[1]));
          const lastSeen = Math.max(...seen);
          const onDisk = (JSON.parse(await readFile(p, "utf8")) as { n: number }).n;
          expect(onDisk).toBeGreaterThanOrEqual(lastSeen);
          expect(onDisk).toBeLessThanOrEqual(lastSeen + 1);
          expect(onDisk).toBeGreaterThanOrEqual(floor);
          // Reported values only grow, also across restarts of the writer.
          expect(seen[0]).toBeGreaterThan(floor);
          floor = onDisk;
        }
        return floor;
      };
      const finals = await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
      for (const f of finals) expect(f).toBeGreaterThan(0);
      // SIGKILL gives no chance to clean up: temp files of the dead writers may be left,
      // and the sweep removes every one of them (their owners are gone).
      await sweepTempFiles(dir);
      expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    },
    stress ? 900_000 : 60_000,
  );
});
