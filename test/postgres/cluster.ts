// A throwaway PostgreSQL cluster for tests, benches and the package-tier check: initdb
// into a fresh temp directory, start on a free loopback port, stop and delete afterwards.
// initdb refuses to run as root, so as root every server command runs as the `postgres`
// user (`runuser`), in a data directory it owns; as anyone else, directly.
// Nothing here is skipped quietly: no binaries, no server, a loud error.
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** The role tests connect as: not a superuser, so nothing works only thanks to privileges. */
export const APP_ROLE = "interlock_app";

export interface PgCluster {
  /** Connection string of {@link APP_ROLE}, a plain role with CREATE on the database. */
  readonly url: string;
  /** Connection string of the superuser, for fault injection (`pg_terminate_backend`). */
  readonly adminUrl: string;
  readonly port: number;
  /** `pg_ctl stop -m immediate`: the server dies without a checkpoint, like a crash. */
  crash(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops the server (fast) and deletes its files. Idempotent. */
  stop(): Promise<void>;
}

function findBinDir(): string {
  const fromEnv = process.env.INTERLOCK_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && Number(v) >= 14)
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      if (existsSync(join(root, v, "bin", "initdb"))) return join(root, v, "bin");
    }
  }
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      "No PostgreSQL server binaries (initdb, pg_ctl) found in /usr/lib/postgresql/<14+>/bin or through pg_config. " +
        "Install PostgreSQL 14 or later (Debian: apt-get install postgresql), set INTERLOCK_PG_BIN to its bin directory, " +
        "or point INTERLOCK_PG_URL at a server. The PostgreSQL tests do not skip themselves.",
    );
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

type Runner = (bin: string, args: string[]) => Promise<string>;

function runner(binDir: string): { exec: Runner; chown: (path: string) => void } {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    return {
      exec: async (bin, args) => (await run(join(binDir, bin), args, { cwd: tmpdir() })).stdout,
      chown: () => {},
    };
  }
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
  return {
    // runuser rather than spawn({uid}): it also sets HOME and the supplementary groups.
    exec: async (bin, args) =>
      (await run("runuser", ["-u", "postgres", "--", join(binDir, bin), ...args], { cwd: "/" }))
        .stdout,
    chown: (path) => chownSync(path, uid, gid),
  };
}

/**
 * Starts a fresh cluster. `settings` are extra `-c name=value` server settings.
 *
 * @example
 * ```ts
 * const cluster = await startCluster();
 * try { ... cluster.url ... } finally { await cluster.stop(); }
 * ```
 */
export async function startCluster(settings: Record<string, string> = {}): Promise<PgCluster> {
  const binDir = findBinDir();
  const { exec, chown } = runner(binDir);
  const dir = mkdtempSync(join(tmpdir(), "interlock-pg-"));
  chown(dir);
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  try {
    await exec("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as Error).message}`);
  }
  let port = 0;
  const options = (): string =>
    [
      `-p ${port}`,
      `-k ${dir}`,
      "-c listen_addresses=127.0.0.1",
      "-c max_connections=300",
      ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
    ].join(" ");
  const start = async (): Promise<void> => {
    await exec("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "-o", options(), "start"]);
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freePort();
    try {
      await start();
      lastError = undefined;
      break;
    } catch (err) {
      // Most likely the port was taken between our probe and the server's bind.
      lastError = err;
    }
  }
  if (lastError !== undefined) {
    const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : "(no log)";
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(lastError as Error).message}\n${tail}`);
  }
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const url = `postgres://${APP_ROLE}@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(
      `CREATE ROLE ${APP_ROLE} LOGIN; GRANT CREATE ON DATABASE postgres TO ${APP_ROLE}`,
    );
  } finally {
    await admin.end();
  }
  let stopped = false;
  return {
    url,
    adminUrl,
    port,
    async crash() {
      await exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await exec("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      } catch {
        // Already stopped (a test crashed it and did not restart it).
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one statement as `url` on a short-lived connection. */
export async function sql<R extends Record<string, any> = Record<string, any>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
