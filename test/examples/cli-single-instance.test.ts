import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { documentedOutput } from "../helpers/examples.js";
import { useTempDir } from "../helpers/temp-dir.js";

const example = fileURLToPath(new URL("../../examples/cli-single-instance.ts", import.meta.url));
const tempDir = useTempDir();

function start(args: string[], env: NodeJS.ProcessEnv) {
  const proc = spawn(process.execPath, ["--import", "tsx", example, ...args], {
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d) => (stdout += d));
  proc.stderr.on("data", (d) => (stderr += d));
  const exited = once(proc, "exit").then(([code]) => ({ code, stdout, stderr }));
  return { proc, exited, stdout: () => stdout };
}

describe("examples/cli-single-instance.ts", () => {
  it("a second run refuses, naming the first run's pid and purpose; after it ends, runs again", async () => {
    const env = { LOCK_DIR: tempDir() };
    const first = start(["deploy", "production"], { ...env, WORK_MS: "60000" });
    try {
      // Wait until the first run says it holds the lock.
      while (!first.stdout().includes("running as pid")) await once(first.proc.stdout, "data");
      const second = await start(["deploy", "staging"], env).exited;
      expect(second.code).toBe(1);
      const normalized = second.stderr
        .trimEnd()
        .replace(`pid ${first.proc.pid} `, "pid <pid> ")
        .replace(` on ${hostname()} `, " on <host> ")
        .replace(/for \d+ s$/, "for <n> s");
      expect(normalized).toBe(documentedOutput(example).trimEnd());
    } finally {
      first.proc.kill("SIGKILL");
      await first.exited;
    }
    // Killed, not cleaned up: the kernel freed the lock anyway.
    const third = await start(["deploy", "staging"], { ...env, WORK_MS: "0" }).exited;
    expect(third).toMatchObject({ code: 0, stderr: "" });
    expect(third.stdout).toMatch(/deploy staging: done/);
  });
});
