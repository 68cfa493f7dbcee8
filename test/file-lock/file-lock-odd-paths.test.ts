// Paths that are not regular files: a FIFO, a Unix socket, a device. Every operation
// refuses them promptly with a typed error, in a child process with a deadline, so a
// blocking open would show as a killed child instead of a frozen test worker.
import { execFileSync } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runFixture } from "../atomic/helpers.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LockChild } from "./helpers.js";

const tempDir = useTempDir();
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function op(name: string, path: string) {
  const r = await runFixture("odd-path-op", [name, path], { timeout: 15_000 });
  expect(r.signal, `${name} ${path} hung and was killed`).toBeNull();
  return JSON.parse(r.stdout) as { ok: boolean; code?: string; message?: string };
}

function fifo(): string {
  const p = join(tempDir(), "fifo");
  execFileSync("mkfifo", [p]);
  return p;
}

async function socket(): Promise<string> {
  const p = join(tempDir(), "sock");
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(p, resolve));
  return p;
}

describe("a FIFO, a socket or a device where a lock file should be", () => {
  it("readLockHolder on a FIFO: EFLOCKPATH at once (no blocking open)", async () => {
    expect(await op("readLockHolder", fifo())).toMatchObject({
      ok: false,
      code: "EFLOCKPATH",
      message: expect.stringMatching(/is a FIFO, not a regular file/),
    });
  });

  it("acquireFileLock on a FIFO: EFLOCKPATH at once", async () => {
    expect(await op("acquire", fifo())).toMatchObject({ ok: false, code: "EFLOCKPATH" });
  });

  it("a Unix socket: EFLOCKPATH, not a raw ENXIO", async () => {
    const p = await socket();
    expect(await op("readLockHolder", p)).toMatchObject({
      ok: false,
      code: "EFLOCKPATH",
      message: expect.stringMatching(/socket/),
    });
    expect(await op("acquire", p)).toMatchObject({ ok: false, code: "EFLOCKPATH" });
  });

  it("a device: EFLOCKPATH", async () => {
    expect(await op("readLockHolder", "/dev/null")).toMatchObject({
      ok: false,
      code: "EFLOCKPATH",
    });
  });

  it("a waiter whose lock path becomes a FIFO settles promptly instead of hanging", async () => {
    const dir = tempDir();
    const path = join(dir, "x.lock");
    const holder = await LockChild.start();
    await holder.request({ op: "acquire", path });
    const waiter = await LockChild.start();
    waiter.send({ op: "acquire", path, timeoutMs: 1_000 });
    const pipe = join(dir, "pipe");
    execFileSync("mkfifo", [pipe]);
    renameSync(pipe, path);
    // Either the replaced file is noticed (EFLOCKPATH) or the timeout fires; its message
    // must not hang opening the FIFO to name a holder.
    const r = await waiter.next();
    expect(r.ok).toBe(false);
    expect(["EFLOCKPATH", "ELOCKTIMEOUT"]).toContain(r.code);
  });

  it("StateFile on a FIFO: read() and update() refuse it with ENOTREGULAR, within their bounds", async () => {
    const p = fifo();
    expect(await op("state-read", p)).toMatchObject({ ok: false, code: "ENOTREGULAR" });
    expect(await op("state-update", p)).toMatchObject({ ok: false, code: "ENOTREGULAR" });
  });

  it("StateFile on a socket: ENOTREGULAR", async () => {
    const p = await socket();
    expect(await op("state-read", p)).toMatchObject({ ok: false, code: "ENOTREGULAR" });
  });

  it("a regular file still works (control)", async () => {
    const p = join(tempDir(), "ok.lock");
    writeFileSync(p, "");
    expect(await op("acquire", p)).toEqual({ ok: true });
    expect(await op("readLockHolder", p)).toEqual({ ok: true });
  });
});
