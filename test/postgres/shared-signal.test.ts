// An orchestrator passes one shutdown signal to every wait. Each wait listening to it on
// its own would add a listener per wait, and Node warns of a leak at the eleventh.
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { freshNamespace, locksOf, until, useBackends } from "./helpers.js";

const connect = useBackends();
const NAMES = Array.from({ length: 12 }, (_, i) => `busy-${i}`);

describe("waits on many names sharing one signal", () => {
  it("add one abort listener between them, and all reject with AbortError on abort", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const namespace = freshNamespace();
      const holder = await connect({ namespace });
      const waiter = await connect({ namespace });
      const held = await Promise.all(NAMES.map((n) => holder.acquireLock(n)));
      const ac = new AbortController();
      const waits = [
        ...NAMES.map((n) => waiter.acquireLock(n, { signal: ac.signal })),
        ...NAMES.map((n) => waiter.locks.request(n, { signal: ac.signal }, () => {})),
      ];
      const settled = Promise.allSettled(waits);
      // Every name has a waiter queued on the server: each of those waits listens.
      await until(async () => {
        const rows = await Promise.all(NAMES.map((n) => locksOf(namespace, n)));
        return rows.every((r) => r.some((l) => !l.granted)) ? true : undefined;
      }, "a waiter on the server for every name");
      expect(getEventListeners(ac.signal, "abort").length).toBeLessThanOrEqual(2);
      ac.abort(new Error("shutdown"));
      for (const r of await settled) {
        expect(r.status).toBe("rejected");
        expect((r as PromiseRejectedResult).reason.name).toBe("AbortError");
      }
      await Promise.all(held.map((h) => h.release()));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
