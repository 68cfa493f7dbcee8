import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";

const fixture = fileURLToPath(new URL("../fixtures/postgres-child.ts", import.meta.url));

export interface Reply {
  ok: boolean;
  [key: string]: any;
}

export interface LostEvent {
  lock: string;
  reason: string;
  at: number;
}

/** A child running test/fixtures/postgres-child.ts, driven one command at a time. */
export class PgChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly lost: LostEvent[] = [];
  #next = 1;
  #waiting = new Map<number, (r: Reply) => void>();
  #lostWaiters: (() => void)[] = [];

  private constructor(proc: ChildProcess) {
    this.proc = proc;
    this.exited = once(proc, "exit");
    proc.on("message", (m: any) => {
      if (m.event === "lost") {
        this.lost.push(m);
        for (const w of this.#lostWaiters.splice(0)) w();
        return;
      }
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      w?.(m);
    });
  }

  /** `keep`: not killed after each test (the file kills it in afterAll). */
  static async start(keep = false): Promise<PgChild> {
    const proc = fork(fixture, [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const child = new PgChild(proc);
    if (!keep) children.add(child);
    const [ready] = (await once(proc, "message")) as [{ ready?: boolean }];
    if (!ready.ready) throw new Error(`child did not start: ${JSON.stringify(ready)}`);
    return child;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Sends a command; the promise settles with its reply (ok or not). */
  send(cmd: Record<string, unknown>): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, resolve);
      this.proc.send({ id, ...cmd });
      this.exited.then(() =>
        reject(new Error(`child ${this.pid} exited before replying to ${cmd.op}`)),
      );
    });
  }

  /** Sends a command and throws unless it succeeded. */
  async request(cmd: Record<string, unknown>): Promise<Reply> {
    const r = await this.send(cmd);
    if (!r.ok) throw new Error(`child ${cmd.op} failed: ${r.name} ${r.code ?? ""} ${r.message}`);
    return r;
  }

  /** Resolves once the child has reported a lost lock. */
  async nextLoss(): Promise<LostEvent> {
    while (this.lost.length === 0) {
      await new Promise<void>((resolve) => this.#lostWaiters.push(resolve));
    }
    return this.lost[0]!;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      await this.exited;
    }
  }
}

const children = new Set<PgChild>();
afterEach(async () => {
  await Promise.all([...children].map((c) => c.kill()));
  children.clear();
});
