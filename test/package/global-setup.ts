// The package tier's setup: build, `npm pack`, and install the tarball into a scratch
// project, as a user would. Every check then runs against that installed copy, through
// `import`, `require` and TypeScript: what the tests prove is what users get.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

const root = fileURLToPath(new URL("../..", import.meta.url));

declare module "vitest" {
  export interface ProvidedContext {
    /** The scratch project with the packed tarball installed. */
    packageApp: string;
    /** The packed tarball. */
    tarball: string;
  }
}

function run(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
}

export default function setup(project: TestProject): () => void {
  // World-readable: when the suite runs as root, checks also run as an unprivileged user,
  // who must be able to read the installed package (a 0700 checkout parent must not matter).
  const scratch = mkdtempSync(join(tmpdir(), "interlock-package-"));
  chmodSync(scratch, 0o755);
  run("npm", ["run", "build"], root);
  const packed = JSON.parse(
    run("npm", ["pack", "--json", "--pack-destination", scratch], root),
  ) as {
    filename: string;
  }[];
  const tarball = join(scratch, packed[0]!.filename);
  const app = join(scratch, "app");
  mkdirSync(app, { mode: 0o755 });
  writeFileSync(
    join(app, "package.json"),
    `${JSON.stringify({ name: "interlock-package-check", private: true, type: "module" }, null, 2)}\n`,
  );
  run("npm", ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline"], app);
  project.provide("packageApp", app);
  project.provide("tarball", tarball);
  return () => rmSync(scratch, { recursive: true, force: true });
}
