import { connect, type Socket } from "node:net";
import type pg from "pg";

// The CancelRequest message of the frontend/backend protocol: length 16, code
// 80877102, then the backend's process id and secret key, on a fresh connection. `pg`
// has no public cancel API (its `cancel()` goes through the deprecated `activeQuery`),
// and pg_cancel_backend() would need a second session of the same role.
const CANCEL_REQUEST_CODE = 80877102;

interface ConnectionParameters {
  host?: string;
  port?: number;
}

/**
 * Asks the server to cancel whatever `client`'s backend is running now. Best effort:
 * resolves once the request is sent (or could not be), never rejects. The server
 * ignores a request that arrives while the backend is idle, so the caller must not
 * reuse `client` for anything a late cancel could hit: it destroys it instead.
 */
export function sendCancel(client: pg.Client): Promise<void> {
  const c = client as pg.Client & {
    processID?: number;
    secretKey?: number;
    connectionParameters?: ConnectionParameters;
  };
  const pid = c.processID;
  const secret = c.secretKey;
  const params = c.connectionParameters;
  if (typeof pid !== "number" || typeof secret !== "number" || params === undefined) {
    return Promise.resolve();
  }
  const port = params.port ?? 5432;
  const host = params.host ?? "localhost";
  return new Promise((resolve) => {
    let socket: Socket;
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    socket = host.startsWith("/") ? connect(`${host}/.s.PGSQL.${port}`) : connect({ host, port });
    socket.setTimeout(5_000, done);
    socket.once("error", done);
    socket.once("close", done);
    socket.once("connect", () => {
      const message = Buffer.alloc(16);
      message.writeInt32BE(16, 0);
      message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      message.writeInt32BE(pid, 8);
      message.writeInt32BE(secret, 12);
      // The server closes the connection once it has read the request.
      socket.end(message);
    });
  });
}
