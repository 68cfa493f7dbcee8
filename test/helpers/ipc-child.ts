import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { afterEach } from "vitest";
import { readableFixture } from "./readable-fixture.js";

/** One reply of a fixture driven over IPC: `{ ok: true, ...result }` or `{ ok: false, ... }`. */
export interface Reply {
  ok: boolean;
  [key: string]: any;
}

export interface ChildOptions {
  env?: NodeJS.ProcessEnv;
  /** Drop privileges: the child runs a bundled copy it can read (readable-fixture.ts). */
  uid?: number;
  gid?: number;
  execArgv?: string[];
  /** Not killed after each test; the caller kills it. */
  keep?: boolean;
}

/**
 * A child process running `test/fixtures/<name>.ts`, driven one command at a time over
 * IPC, so a cross-process test knows exactly what the child holds without sleeping. The
 * fixture sends `{ready: true}` first, then one reply per command, in order. Children
 * are killed after each test unless started with `keep`.
 */
export class IpcChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  #replies: Reply[] = [];
  #waiting: ((r: Reply) => void)[] = [];

  protected constructor(proc: ChildProcess) {
    this.proc = proc;
    this.exited = once(proc, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    proc.on("message", (m: Reply) => {
      const w = this.#waiting.shift();
      if (w) w(m);
      else this.#replies.push(m);
    });
  }

  /** Forks `name` as a `C` and waits for its ready message. */
  protected static async launch<C extends IpcChild>(
    make: (proc: ChildProcess) => C,
    name: string,
    args: string[],
    options: ChildOptions = {},
  ): Promise<C> {
    const dropped = options.uid !== undefined;
    const file = dropped
      ? readableFixture(name)
      : new URL(`../fixtures/${name}.ts`, import.meta.url).pathname;
    const proc = fork(file, args, {
      execArgv: [...(options.execArgv ?? []), ...(dropped ? [] : ["--import", "tsx"])],
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      ...(dropped ? { uid: options.uid, gid: options.gid } : {}),
    });
    const child = make(proc);
    if (!options.keep) children.add(child);
    const ready = await child.next();
    if (!ready.ready) throw new Error(`child did not start: ${JSON.stringify(ready)}`);
    return child;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  next(): Promise<Reply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      this.exited.then(() => reject(new Error("child exited before replying")));
    });
  }

  /** Sends a command and waits for its reply. */
  async request(cmd: object): Promise<Reply> {
    this.proc.send(cmd);
    return this.next();
  }

  /** Sends a command whose reply the caller collects later with `next()`. */
  send(cmd: object): void {
    this.proc.send(cmd);
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      await this.exited;
    }
  }
}

const children = new Set<IpcChild>();
afterEach(async () => {
  await Promise.all([...children].map((c) => c.kill()));
  children.clear();
});
