// Session advisory locks need a real server session: through a transaction-mode pooler
// each statement may run on another server connection, so a lock taken by one statement
// stays on a connection that other clients then use, and "release" runs elsewhere.
// Detected once at connect, with no cost on a direct connection.
import pg from "pg";
import { PostgresConnectionError } from "./errors.js";

const PIN_WAIT_MS = 3_000;

function refuse(detail: string): PostgresConnectionError {
  return new PostgresConnectionError(
    "EPGPOOLER",
    `The connection goes through a transaction-mode pooler (${detail}). Session advisory locks cannot work there: ` +
      "a lock would stay on a server connection that other clients then use. Connect interlock to PostgreSQL directly, " +
      "or through a session-mode pool (pgBouncer `pool_mode = session`).",
  );
}

/**
 * Refuses a transaction pooler. `first` is a connected client whose backend pid was
 * read as `backendPid`. A direct connection reports, at startup, the pid of the backend
 * that serves it (BackendKeyData), so the two agree and nothing else is done. A proxy
 * reports its own key; then a second client opens a transaction (which pins a server
 * connection to it under any pooler) and the first asks for its backend pid again:
 * in session mode it is still the same backend, and never the second client's; in
 * transaction mode it moved, the pinned connection was the first one's, or the first
 * client had to wait for a free server connection.
 */
export async function refuseTransactionPooler(
  first: pg.Client,
  backendPid: number,
  clientConfig: pg.ClientConfig,
): Promise<void> {
  if ((first as pg.Client & { processID?: number }).processID === backendPid) return;
  const second = new pg.Client(clientConfig);
  second.on("error", () => {});
  await second.connect();
  try {
    await second.query("BEGIN");
    const pinned = (await second.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!
      .pid;
    if (pinned === backendPid) {
      throw refuse(
        `a second client's transaction ran on server backend ${pinned}, the first client's`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const again = await Promise.race([
      first.query<{ pid: number }>("SELECT pg_backend_pid() AS pid").then((r) => r.rows[0]!.pid),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), PIN_WAIT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (again === undefined) {
      throw refuse(
        `a statement waited ${PIN_WAIT_MS} ms for a server connection while another client held a transaction`,
      );
    }
    if (again !== backendPid) {
      throw refuse(
        `one client's statements ran on server backends ${backendPid} and then ${again}`,
      );
    }
  } finally {
    await second.query("ROLLBACK").catch(() => {});
    await second.end().catch(() => {});
  }
}
