import { fork } from "node:child_process";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { afterEach } from "vitest";

export interface Message {
  id: number;
  event: string;
  [key: string]: any;
}

const fixtureUrl = new URL("../fixtures/locks-child.ts", import.meta.url);

/**
 * A LockManager client in a child process or a worker thread, running
 * test/fixtures/locks-child.ts. Each command gets an id; `event(id, name)` waits for
 * that command's event.
 */
export class LocksClient {
  #nextId = 1;
  #events: Message[] = [];
  #waiting: { id: number; event: string; resolve: (m: Message) => void }[] = [];
  #gone: Promise<unknown>;
  #kill: () => Promise<void>;
  pid = 0;
  threadId = 0;
  clientId = "";

  private constructor(
    post: (m: object) => void,
    on: (fn: (m: Message) => void) => void,
    gone: Promise<unknown>,
    kill: () => Promise<void>,
  ) {
    this.post = post;
    this.#gone = gone;
    this.#kill = kill;
    on((m) => {
      const i = this.#waiting.findIndex((w) => w.id === m.id && w.event === m.event);
      if (i >= 0) this.#waiting.splice(i, 1)[0]!.resolve(m);
      else this.#events.push(m);
    });
  }

  readonly post: (m: object) => void;

  /**
   * A child process; killed after each test unless `keep` (then the caller kills it).
   * `fixture`: another client speaking the same protocol (default: the file-lock one),
   * given `arg` as its argument.
   */
  static async process(
    arg: string,
    { keep = false, fixture = fixtureUrl }: { keep?: boolean; fixture?: URL } = {},
  ): Promise<LocksClient> {
    const proc = fork(fixture, [arg], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const exited = once(proc, "exit");
    const c = new LocksClient(
      (m) => proc.send(m),
      (fn) => proc.on("message", fn),
      exited,
      async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill("SIGKILL");
          await exited;
        }
      },
    );
    return c.#ready(keep);
  }

  /** A worker thread of this process. */
  static async thread(dir: string): Promise<LocksClient> {
    const worker = new Worker(new URL("../fixtures/tsx-worker.mjs", import.meta.url), {
      workerData: { fixture: fixtureUrl.href, dir },
    });
    const exited = once(worker, "exit");
    worker.on("error", (err) => console.error("worker failed:", err));
    const c = new LocksClient(
      (m) => worker.postMessage(m),
      (fn) => worker.on("message", fn),
      exited,
      async () => {
        await worker.terminate();
      },
    );
    return c.#ready();
  }

  async #ready(keep = false): Promise<LocksClient> {
    if (!keep) clients.add(this);
    const ready = await this.event(0, "ready");
    this.pid = ready.pid;
    this.threadId = ready.threadId;
    this.clientId = ready.clientId;
    return this;
  }

  /** Sends a command; returns its id. */
  send(cmd: object): number {
    const id = this.#nextId++;
    this.post({ ...cmd, id });
    return id;
  }

  /** The event `event` of command `id` (or its "failed" event, as a rejection). */
  event(id: number, event: string): Promise<Message> {
    const take = (name: string) => {
      const i = this.#events.findIndex((m) => m.id === id && m.event === name);
      return i >= 0 ? this.#events.splice(i, 1)[0] : undefined;
    };
    const failed = take("failed");
    if (failed) return Promise.reject(Object.assign(new Error("failed"), failed.error));
    const got = take(event);
    if (got) return Promise.resolve(got);
    return new Promise((resolve, reject) => {
      // Whichever comes first removes the other, so that a later wait for another event
      // of the same command gets its own "failed".
      const drop = (w: object) => {
        const i = this.#waiting.indexOf(w as never);
        if (i >= 0) this.#waiting.splice(i, 1);
      };
      const ok = {
        id,
        event,
        resolve: (m: Message) => {
          drop(failed);
          resolve(m);
        },
      };
      const failed = {
        id,
        event: "failed",
        resolve: (m: Message) => {
          drop(ok);
          reject(Object.assign(new Error(m.error.message), m.error));
        },
      };
      this.#waiting.push(ok, failed);
      this.#gone.then(() => reject(new Error(`client exited before "${event}" of ${id}`)));
    });
  }

  /** Sends a command and waits for its `done`. */
  async run(cmd: object): Promise<Message> {
    return this.event(this.send(cmd), "done");
  }

  /** Requests `name` and holds it until `release()`; resolves once queued (or granted). */
  async hold(
    name: string,
    options: object = {},
  ): Promise<{ id: number; granted: Promise<Message>; release: () => Promise<Message> }> {
    const id = this.send({ op: "hold", name, options });
    const granted = this.event(id, "granted");
    granted.catch(() => {});
    await this.event(id, "queued");
    return {
      id,
      granted,
      release: async () => {
        await this.run({ op: "release", key: id });
        return this.event(id, "done");
      },
    };
  }

  kill(): Promise<void> {
    clients.delete(this);
    return this.#kill();
  }
}

const clients = new Set<LocksClient>();
afterEach(async () => {
  await Promise.all([...clients].map((c) => c.kill()));
});

/** Resolves after one turn of the event loop. */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A promise and the function that resolves it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Polls `check` until it returns true; a safety net with a generous deadline, not a timer. */
export async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
