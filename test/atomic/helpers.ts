import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { readableFixture } from "../helpers/readable-fixture.js";

/** Runs `test/fixtures/<name>.ts` under tsx and collects its output. */
export function runFixture(
  name: string,
  args: string[],
  options: SpawnOptions & { shell?: string; input?: string } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const { input, ...rest } = options;
  const child = spawnFixture(name, args, rest);
  child.stdin?.end(input ?? "");
  return collect(child);
}

/**
 * Spawns a fixture. With `options.shell`, the fixture runs as
 * `bash -c '<shell>; exec node ...'`, e.g. to set `ulimit -f` or `umask` first.
 */
export function spawnFixture(
  name: string,
  args: string[],
  options: SpawnOptions & { shell?: string } = {},
): ChildProcess {
  const { shell, ...rest } = options;
  // A child that drops privileges gets a bundled copy it can read (readable-fixture.ts).
  const nodeArgs =
    rest.uid === undefined
      ? ["--import", "tsx", `test/fixtures/${name}.ts`, ...args]
      : [readableFixture(name), ...args];
  const spawnOptions: SpawnOptions = { stdio: ["pipe", "pipe", "pipe"], ...rest };
  if (shell === undefined) return spawn(process.execPath, nodeArgs, spawnOptions);
  const quoted = [process.execPath, ...nodeArgs].map((a) => `'${a.replaceAll("'", "'\\''")}'`);
  return spawn("bash", ["-c", `${shell}; exec ${quoted.join(" ")}`], spawnOptions);
}

export function collect(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Resolves with the first stdout line of `child` that satisfies `match`. */
export function waitForLine(
  child: ChildProcess,
  match: (line: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("utf8");
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (match(line)) {
          child.stdout?.off("data", onData);
          resolve(line);
          return;
        }
        nl = buf.indexOf("\n");
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code, signal) =>
      reject(new Error(`fixture exited (${code ?? signal}) before printing the expected line`)),
    );
  });
}

/** Names in `dir` that look like interlock temp files. */
export async function tempFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(".tmp"));
}

export const isRoot = process.getuid?.() === 0;
