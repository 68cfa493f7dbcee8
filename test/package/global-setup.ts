// The package tier's setup: build, `npm pack`, and install the tarball into a scratch
// project, as a user would. Every check then runs against that installed copy, through
// `import`, `require` and TypeScript: what the tests prove is what users get.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { startCluster } from "../postgres/cluster.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

declare module "vitest" {
  export interface ProvidedContext {
    /** The scratch project with the packed tarball installed. */
    packageApp: string;
    /** The packed tarball. */
    tarball: string;
    /** A PostgreSQL server for the checks of `interlock/postgres`. */
    packagePgUrl: string;
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
  // pg is interlock/postgres's optional peer: a user of that entry installs it too.
  const pg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).devDependencies.pg;
  run("npm", ["install", tarball, `pg@${pg}`, "--no-audit", "--no-fund", "--prefer-offline"], app);
  project.provide("packageApp", app);
  project.provide("tarball", tarball);
  // The checks of interlock/postgres need a server: a throwaway cluster, as the postgres
  // tests start one (or INTERLOCK_PG_URL).
  const external = process.env.INTERLOCK_PG_URL;
  const cluster = external ? undefined : await startCluster({ fsync: "off" });
  project.provide("packagePgUrl", external ?? cluster!.url);
  return async () => {
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
}
