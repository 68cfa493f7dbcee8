// A tiny PostgreSQL connection pooler for tests, speaking just enough of the wire
// protocol: it authenticates clients itself (trust), hands them its own BackendKeyData
// (as pgBouncer does), and forwards each batch of client messages (up to a Query or a
// Sync) to a server connection from a small pool. In "transaction" mode a server
// connection goes back to the pool whenever the server reports idle (ReadyForQuery 'I'),
// so consecutive statements of one client may run on different server sessions; in
// "session" mode a client keeps its server connection for life.
import { connect, createServer, type Server, type Socket } from "node:net";

interface ServerConn {
  socket: Socket;
  /** Bytes from the server not yet parsed into whole messages. */
  pending: Buffer;
  onMessage: ((type: string, message: Buffer) => void) | undefined;
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) b.writeInt32BE(values[i]!, 4 * i);
  return b;
}

export interface FakePooler {
  url: string;
  close(): Promise<void>;
}

export async function startFakePooler(
  target: { host: string; port: number; user: string; database: string },
  mode: "transaction" | "session",
  poolSize = 2,
): Promise<FakePooler> {
  const idle: ServerConn[] = [];
  const queue: ((c: ServerConn) => void)[] = [];
  const sockets = new Set<Socket>();
  let open = 0;

  const openServer = (): Promise<ServerConn> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port });
      sockets.add(socket);
      const conn: ServerConn = { socket, pending: Buffer.alloc(0), onMessage: undefined };
      socket.once("error", reject);
      socket.on("data", (data) => {
        conn.pending = Buffer.concat([conn.pending, data]);
        while (conn.pending.length >= 5) {
          const len = conn.pending.readInt32BE(1);
          if (conn.pending.length < len + 1) break;
          const whole = conn.pending.subarray(0, len + 1);
          conn.pending = conn.pending.subarray(len + 1);
          conn.onMessage?.(whole.toString("latin1", 0, 1), whole);
        }
      });
      const params = Buffer.from(`user\0${target.user}\0database\0${target.database}\0\0`);
      const startup = Buffer.concat([int32(params.length + 8, 196608), params]);
      conn.onMessage = (type) => {
        if (type === "Z") {
          conn.onMessage = undefined;
          resolve(conn);
        }
      };
      socket.write(startup);
    });

  const take = async (): Promise<ServerConn> => {
    const conn = idle.pop();
    if (conn !== undefined) return conn;
    if (open < poolSize) {
      open++;
      return openServer();
    }
    return new Promise((resolve) => queue.push(resolve));
  };
  const give = (conn: ServerConn): void => {
    const next = queue.shift();
    if (next !== undefined) next(conn);
    else idle.push(conn);
  };

  let nextKey = 7_000_000;
  const server: Server = createServer((client) => {
    sockets.add(client);
    let buffer = Buffer.alloc(0);
    let started = false;
    let batch: Buffer[] = [];
    let pinned: ServerConn | undefined;
    let working = Promise.resolve();
    client.on("error", () => {});
    client.on("close", () => {
      if (pinned !== undefined && mode === "transaction") give(pinned);
    });
    const flush = (msgs: Buffer[]): void => {
      working = working.then(async () => {
        const conn = pinned ?? (await take());
        pinned = conn;
        await new Promise<void>((done) => {
          conn.onMessage = (type, whole) => {
            client.write(whole);
            if (type === "Z") {
              conn.onMessage = undefined;
              // 'I': idle, outside a transaction.
              if (mode === "transaction" && whole.toString("latin1", 5, 6) === "I") {
                pinned = undefined;
                give(conn);
              }
              done();
            }
          };
          conn.socket.write(Buffer.concat(msgs));
        });
      });
    };
    client.on("data", (data) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const len = buffer.readInt32BE(0);
          if (buffer.length < len) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(len);
          if (code === 80877103) {
            client.write("N"); // no SSL
            continue;
          }
          if (code === 80877102) {
            client.end(); // cancel requests are not forwarded
            return;
          }
          started = true;
          client.write(
            Buffer.concat([
              message("R", int32(0)),
              message("S", Buffer.from("server_version\u000015\u0000")),
              message("K", int32(nextKey++, 12345)),
              message("Z", Buffer.from("I")),
            ]),
          );
          continue;
        }
        if (buffer.length < 5) return;
        const len = buffer.readInt32BE(1);
        if (buffer.length < len + 1) return;
        const whole = buffer.subarray(0, len + 1);
        buffer = buffer.subarray(len + 1);
        const type = whole.toString("latin1", 0, 1);
        if (type === "X") {
          client.end();
          return;
        }
        batch.push(whole);
        if (type === "Q" || type === "S") {
          const msgs = batch;
          batch = [];
          flush(msgs);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `postgres://${target.user}@127.0.0.1:${port}/${target.database}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
