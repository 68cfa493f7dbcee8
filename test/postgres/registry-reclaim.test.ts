// A registry owner process is SIGKILLed with a pending and an active entry: its owner
// lock goes with its connections, so another process reclaims the pending entry (and
// only that one) and can take its id; a live owner's entries are never reclaimed.
import { describe, expect, it } from "vitest";
import { PgChild } from "./child.js";
import { freshNamespace, pgUrl, until, useBackends } from "./helpers.js";

const connect = useBackends();

describe("registry reclaim", () => {
  it("after SIGKILL of an owner, its pending entry is reclaimed and its active entry stays", async () => {
    const namespace = freshNamespace();
    const child = await PgChild.start();
    await child.request({ op: "connect", url: pgUrl(), namespace });
    await child.request({ op: "reserve", registry: "worktrees", entry: "wt-active" });
    await child.request({ op: "commit", registry: "worktrees", entry: "wt-active" });
    await child.request({ op: "reserve", registry: "worktrees", entry: "wt-pending" });
    const me = await connect({ namespace });
    const reg = me.registry("worktrees");
    // Alive: nothing to reclaim, and its id is taken.
    expect(await reg.reclaim()).toEqual([]);
    await expect(reg.reserve({ id: "wt-pending" })).rejects.toMatchObject({ code: "EIDTAKEN" });
    await child.kill("SIGKILL");
    const t0 = Date.now();
    const dropped = await until(async () => {
      const d = await reg.reclaim();
      return d.length > 0 ? d : undefined;
    }, "the dead owner's entry to be reclaimable");
    console.log(`owner SIGKILLed → its pending entry reclaimed after ${Date.now() - t0} ms`);
    expect(dropped).toEqual([
      expect.objectContaining({
        id: "wt-pending",
        status: "pending",
        owner: expect.objectContaining({ pid: child.pid }),
      }),
    ]);
    expect((await reg.list()).map((e) => [e.id, e.status])).toEqual([["wt-active", "active"]]);
    const mine = await reg.reserve({ id: "wt-pending" });
    await mine.commit();
  });
});
