import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import { readableFixture } from "../helpers/readable-fixture.js";

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export interface Reply {
  ok: boolean;
  [key: string]: any;
}

/** A child running test/fixtures/file-lock-child.ts, driven one command at a time. */
export class LockChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  #replies: Reply[] = [];
  #waiting: ((r: Reply) => void)[] = [];

  private constructor(proc: ChildProcess) {
    this.proc = proc;
    this.exited = once(proc, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    proc.on("message", (m: Reply) => {
      const w = this.#waiting.shift();
      if (w) w(m);
      else this.#replies.push(m);
    });
  }

  static async start(
    options: {
      env?: NodeJS.ProcessEnv;
      uid?: number;
      gid?: number;
      execArgv?: string[];
      /** Not killed after each test; the caller kills it. */
      keep?: boolean;
    } = {},
  ): Promise<LockChild> {
    // A child that drops privileges gets a bundled copy it can read (readable-fixture.ts).
    const dropped = options.uid !== undefined;
    const proc = fork(
      dropped ? readableFixture("file-lock-child") : fixture("file-lock-child.ts"),
      [],
      {
        execArgv: [...(options.execArgv ?? []), ...(dropped ? [] : ["--import", "tsx"])],
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
      },
    );
    const child = new LockChild(proc);
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

const children = new Set<LockChild>();
afterEach(async () => {
  await Promise.all([...children].map((c) => c.kill()));
  children.clear();
});

/** Open descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Open descriptors of this process on files under `dir` (Linux). */
export function openFdsUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) n++;
    } catch {
      // Closed while we looked.
    }
  }
  return n;
}
