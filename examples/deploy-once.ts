// One deploy of production at a time, whichever process starts it: named locks with the
// Web Locks API's shape (`navigator.locks`), shared by every process that uses the same
// directory. Deployers are separate processes (this file, forked); the parent watches
// them with query(): who deploys, who waits, and, once a deployer is SIGKILLed mid-deploy,
// nobody: the lock went with its process. Each grant's fencing token is higher than the
// last, so a store can refuse a stale deployer's writes.
//
//   node --import tsx examples/deploy-once.ts
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LockInfo, LockManager } from "interlock";

const NAME = "deploy:production";
const [role, dir, who, version] = process.argv.slice(2);

if (role === "deployer") {
  // A deployer: waits its turn ("wait") or gives up if someone is deploying ("if-free").
  const locks = new LockManager({ dir: dir! });
  const mode = process.argv[6];
  const holder = { purpose: `deploy ${version}`, by: who };
  const outcome = locks.request(
    NAME,
    mode === "if-free" ? { ifAvailable: true, holder } : { holder },
    async (lock) => {
      if (lock === null) return "skipped";
      process.send!({ event: "deploying", token: lock.token });
      await once(process, "message"); // the parent says when the deploy is over
      return "deployed";
    },
  );
  // A turn later the request is either granted or written down as waiting.
  if (mode === "wait") setImmediate(() => process.send!({ event: "queued" }));
  process.send!({ event: await outcome }, () => process.exit(0));
} else {
  const root = mkdtempSync(join(tmpdir(), "interlock-deploy-demo-"));
  const lockDir = join(root, "locks");
  const locks = new LockManager({ dir: lockDir });
  const describe = (e: LockInfo) => `${e.name} ${e.mode}, ${e.holder?.purpose} by ${e.holder?.by}`;
  const show = async () => {
    const { held, pending } = await locks.query();
    console.log(`  held:    ${held.map(describe).join("; ") || "(none)"}`);
    console.log(`  pending: ${pending.map(describe).join("; ") || "(none)"}`);
  };

  const deployers: ChildProcess[] = [];
  const start = (name: string, v: string, mode: "wait" | "if-free") => {
    const child = fork(process.argv[1]!, ["deployer", lockDir, name, v, mode], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    deployers.push(child);
    const events: { event: string; token?: number }[] = [];
    const waiting: ((e: { event: string; token?: number }) => void)[] = [];
    child.on("message", (m: { event: string; token?: number }) => {
      const w = waiting.shift();
      if (w) w(m);
      else events.push(m);
    });
    const next = () =>
      new Promise<{ event: string; token?: number }>((resolve) => {
        const e = events.shift();
        if (e) resolve(e);
        else waiting.push(resolve);
      });
    return { child, next };
  };

  try {
    console.log("a deploys v2.4.1:");
    const a = start("a", "v2.4.1", "wait");
    const aGot = await a.next();
    await a.next(); // queued (granted already)
    console.log(`  ${aGot.event}, token ${aGot.token}`);

    console.log("b wants v2.4.2 only if nobody is deploying (ifAvailable):");
    const b = start("b", "v2.4.2", "if-free");
    console.log(`  ${(await b.next()).event}`);

    console.log("c wants v2.4.3 and waits; query() from a third process:");
    const c = start("c", "v2.4.3", "wait");
    await c.next(); // queued: c's wait is written down
    await show();

    console.log("a finishes; c deploys:");
    a.child.send("done");
    console.log(`  a: ${(await a.next()).event}`);
    const cGot = await c.next();
    console.log(`  c: ${cGot.event}, token ${cGot.token}`);

    console.log("c is SIGKILLed mid-deploy; query():");
    c.child.kill("SIGKILL");
    await once(c.child, "exit");
    await show();

    console.log("d deploys v2.4.3 at once:");
    const d = start("d", "v2.4.3", "wait");
    const dGot = await d.next();
    await d.next(); // queued (granted already)
    console.log(`  d: ${dGot.event}, token ${dGot.token}`);
    d.child.send("done");
    console.log(`  d: ${(await d.next()).event}`);
    const rising = (aGot.token ?? 0) < (cGot.token ?? 0) && (cGot.token ?? 0) < (dGot.token ?? 0);
    console.log(`tokens rose with every grant: ${rising}`);
  } finally {
    for (const child of deployers) child.kill("SIGKILL");
    await Promise.all(
      deployers.map((child) =>
        child.exitCode === null && child.signalCode === null ? once(child, "exit") : undefined,
      ),
    );
    rmSync(root, { recursive: true, force: true });
  }
}

// Output:
// a deploys v2.4.1:
//   deploying, token 1
// b wants v2.4.2 only if nobody is deploying (ifAvailable):
//   skipped
// c wants v2.4.3 and waits; query() from a third process:
//   held:    deploy:production exclusive, deploy v2.4.1 by a
//   pending: deploy:production exclusive, deploy v2.4.3 by c
// a finishes; c deploys:
//   a: deployed
//   c: deploying, token 2
// c is SIGKILLed mid-deploy; query():
//   held:    (none)
//   pending: (none)
// d deploys v2.4.3 at once:
//   d: deploying, token 3
//   d: deployed
// tokens rose with every grant: true
