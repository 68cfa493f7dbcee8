// Package-tier check of reserved ids: through `import "interlock"` only. Several
// processes reserve from one FileRegistry at once and get distinct ids and slots; a
// SIGKILLed owner's pending entry is reclaimed (same id and slot free again); `list()`
// answers while an owner holds a pending entry.
// Usage: node ids.mjs <emptyScratchDir>   (forks itself for the children)
import { fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { FileRegistry, IdTakenError } from "interlock";

const SLOT = { min: 0, max: 15 };
const [role, arg] = process.argv.slice(2);

if (role === "worker") {
  // Reserve and commit three entries as fast as possible, report them.
  const registry = new FileRegistry(arg);
  const got = [];
  for (let i = 0; i < 3; i++) {
    const e = await registry.reserve({ base: "worker", slot: SLOT, timeoutMs: 10_000 });
    await e.commit({ pid: process.pid });
    got.push([e.id, e.slot]);
  }
  process.send({ got }, () => process.exit(0));
} else if (role === "victim") {
  // Hold a pending entry until killed.
  const e = await new FileRegistry(arg).reserve({ id: "victim", slot: SLOT, timeoutMs: 10_000 });
  process.send({ held: [e.id, e.slot] });
  setInterval(() => {}, 1_000);
} else {
  const failures = [];
  const check = (ok, what) => {
    if (!ok) failures.push(what);
  };
  const path = join(role, "sessions.json");
  const registry = new FileRegistry(path);
  const child = (kind) => {
    const c = fork(process.argv[1], [kind, path], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return { c, message: once(c, "message").then(([m]) => m) };
  };
  try {
    const workers = [1, 2, 3, 4].map(() => child("worker"));
    const got = (await Promise.all(workers.map((w) => w.message))).flatMap((m) => m.got);
    check(got.length === 12, `12 reservations, got ${got.length}`);
    check(new Set(got.map(([id]) => id)).size === 12, `distinct ids: ${JSON.stringify(got)}`);
    const slots = got.map(([, s]) => s).sort((a, b) => a - b);
    check(JSON.stringify(slots) === JSON.stringify([...Array(12).keys()]), `slots 0..11: ${slots}`);

    const victim = child("victim");
    const [, victimSlot] = (await victim.message).held;
    const listed = await registry.list();
    check(
      listed.some((e) => e.id === "victim" && e.status === "pending"),
      "list() shows the victim's pending entry while it holds it",
    );
    const taken = await registry.reserve({ id: "victim" }).catch((e) => e);
    check(taken instanceof IdTakenError && taken.code === "EIDTAKEN", "EIDTAKEN while pending");
    victim.c.kill("SIGKILL");
    await once(victim.c, "exit");
    check(!(await registry.list()).some((e) => e.id === "victim"), "dead owner's entry reclaimed");
    const again = await registry.reserve({ id: "victim", slot: SLOT });
    check(again.slot === victimSlot, `same slot again: ${again.slot} vs ${victimSlot}`);
    await again.commit();
    check((await registry.list()).length === 13, "13 entries at the end");
  } catch (err) {
    failures.push(`threw: ${err?.stack ?? err}`);
  }
  if (failures.length > 0) {
    console.error(`ids check failed:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log("ids: 12 distinct ids and slots from 4 processes; SIGKILLed owner reclaimed");
}
