// A CLI's config file, edited by several commands at once.
//
// Six invocations of a `demo-cli` run at the same moment, each changing one thing in
// ~/.config/demo/config.json (here: a temp dir). First each command does what most
// CLIs do: read the file, change it, write it back (atomically, even). Then each uses
// a StateFile, which reads inside a cross-process lock and writes atomically.
//
// Run it: node --import tsx examples/config-concurrent-edit.ts
// (With an argument list, it is one invocation of the CLI; the demo spawns those.)
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { StateFile, StateFileCorruptError, writeFileAtomic } from "interlock";

interface Config {
  editor: string;
  theme: string;
  aliases: Record<string, string>;
  plugins: string[];
}

const defaults: Config = { editor: "nano", theme: "light", aliases: {}, plugins: [] };

/** What one command changes: the same function for both ways of editing. */
function apply(config: Config, [verb, a, b]: string[]): Config {
  if (verb === "set") return { ...config, [a!]: b! };
  if (verb === "alias") return { ...config, aliases: { ...config.aliases, [a!]: b! } };
  if (verb === "plugin")
    return { ...config, plugins: [...new Set([...config.plugins, a!])].sort() };
  throw new Error(`unknown command ${verb}`);
}

// --- one invocation of the CLI: demo-cli <naive|statefile> <file> <command...> ---
async function cli(way: string, file: string, command: string[]): Promise<void> {
  // Every invocation starts when told to, so they really overlap.
  const lines = createInterface({ input: process.stdin });
  const go = () => new Promise<void>((resolve) => lines.once("line", () => resolve()));
  if (way === "naive") {
    const config = JSON.parse(await readFile(file, "utf8")) as Config;
    console.log("read");
    await go(); // every command has read the file before any writes it back
    await writeFileAtomic(file, `${JSON.stringify(apply(config, command), null, 2)}\n`);
  } else {
    const state = new StateFile<Config>(file, { defaults });
    console.log("read");
    await go();
    await state.update((config) => apply(config, command), { timeoutMs: 10_000 });
  }
  lines.close();
}

// --- the demo: six commands at once, both ways ---
const commands = [
  ["set", "editor", "vim"],
  ["set", "theme", "dark"],
  ["alias", "co", "checkout"],
  ["alias", "st", "status"],
  ["plugin", "git"],
  ["plugin", "lint"],
];

async function runAll(way: string, file: string): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = commands.map((command) =>
    // The same loader flags as this process (tsx, to run TypeScript directly).
    spawn(process.execPath, [...process.execArgv, self, way, file, ...command], {
      stdio: ["pipe", "pipe", "inherit"],
    }),
  );
  // Wait until each has read the file (or built its StateFile), then start them all.
  await Promise.all(
    children.map(
      (c) => new Promise((resolve) => createInterface({ input: c.stdout! }).once("line", resolve)),
    ),
  );
  const exited = children.map((c) => new Promise((resolve) => c.on("close", resolve)));
  for (const c of children) c.stdin!.end("go\n");
  await Promise.all(exited);
}

function editsKept(config: Config): number {
  return commands.filter((cmd) => JSON.stringify(apply(config, cmd)) === JSON.stringify(config))
    .length;
}

async function demo(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "interlock-config-demo-"));
  const file = path.join(dir, "config.json");
  try {
    console.log(`${commands.length} commands edit config.json at the same time`);

    await writeFile(file, `${JSON.stringify(defaults, null, 2)}\n`);
    await runAll("naive", file);
    const naive = JSON.parse(await readFile(file, "utf8")) as Config;
    console.log("\nread, change, write back (atomically, but without a lock):");
    console.log(`  edits kept: ${editsKept(naive)} of ${commands.length}`);

    await writeFile(file, `${JSON.stringify(defaults, null, 2)}\n`);
    await chmod(file, 0o640);
    await runAll("statefile", file);
    const text = await readFile(file, "utf8");
    console.log("\nStateFile.update (lock on config.json.lock, read inside it, atomic write):");
    console.log(`  edits kept: ${editsKept(JSON.parse(text))} of ${commands.length}`);
    console.log(`  mode: 0${((await stat(file)).mode & 0o777).toString(8)}`);
    for (const line of text.trimEnd().split("\n")) console.log(`  ${line}`);

    const broken = '{\n  "editor": "vim",\n  "theme": \n}\n';
    await writeFile(file, broken);
    const state = new StateFile<Config>(file, { defaults });
    const err = await state.update((c) => apply(c, ["set", "theme", "dark"])).catch((e) => e);
    console.log("\nafter someone hand-edits it into invalid JSON:");
    if (err instanceof StateFileCorruptError) {
      console.log(`  ${err.code} at line ${err.line}, column ${err.column}`);
      console.log(`  file left as it was: ${(await readFile(file, "utf8")) === broken}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const [way, file, ...command] = process.argv.slice(2);
if (way === undefined) await demo();
else await cli(way, file!, command);

// Output:
// 6 commands edit config.json at the same time
//
// read, change, write back (atomically, but without a lock):
//   edits kept: 1 of 6
//
// StateFile.update (lock on config.json.lock, read inside it, atomic write):
//   edits kept: 6 of 6
//   mode: 0640
//   {
//     "aliases": {
//       "co": "checkout",
//       "st": "status"
//     },
//     "editor": "vim",
//     "plugins": [
//       "git",
//       "lint"
//     ],
//     "theme": "dark"
//   }
//
// after someone hand-edits it into invalid JSON:
//   ESTATECORRUPT at line 4, column 1
//   file left as it was: true
