import type fc from "fast-check";
import { expect } from "vitest";

/** Lets the scheduler decide when each step of a task happens. */
export function step(s: fc.Scheduler, label: string): Promise<void> {
  return s.schedule(Promise.resolve(), label);
}

/**
 * Records what a run of tasks did, so each property can check the guarantees that
 * hold for every FIFO primitive: grants follow arrival order, each task ends exactly
 * once, a task whose wait was cancelled is never granted.
 */
export class Journal {
  readonly arrivals: number[] = [];
  readonly grants: number[] = [];
  readonly cancelled = new Set<number>();
  readonly done = new Set<number>();

  arrive(id: number): void {
    this.arrivals.push(id);
  }

  grant(id: number): void {
    expect(this.cancelled.has(id)).toBe(false);
    this.grants.push(id);
  }

  cancel(id: number, err: unknown): void {
    expect((err as Error).name).toMatch(/^(AbortError|LockTimeoutError)$/);
    this.cancelled.add(id);
  }

  finish(id: number): void {
    expect(this.done.has(id)).toBe(false);
    this.done.add(id);
  }

  /**
   * Arrives, then waits for `acquire`: returns the handle (recording the grant), or
   * `undefined` after recording the cancellation and the end of the task.
   */
  async take<H>(id: number, acquire: () => Promise<H>): Promise<H | undefined> {
    this.arrive(id);
    try {
      const handle = await acquire();
      this.grant(id);
      return handle;
    } catch (err) {
      this.cancel(id, err);
      this.finish(id);
      return undefined;
    }
  }

  /** Starts every task, lets the scheduler run them all, and checks each one ended. */
  async runAll(s: fc.Scheduler, count: number, run: (id: number) => Promise<void>): Promise<void> {
    for (let id = 0; id < count; id++) void run(id);
    await s.waitIdle();
    this.expectAllEnded(count);
  }

  /** The grants, as positions in arrival order, must be increasing. */
  expectFifo(grants: number[] = this.grants): void {
    const pos = new Map(this.arrivals.map((id, i) => [id, i]));
    const seq = grants.map((id) => pos.get(id)!);
    expect(seq).toEqual([...seq].sort((a, b) => a - b));
  }

  expectAllEnded(count: number): void {
    expect(this.done.size).toBe(count);
    for (const id of this.cancelled) expect(this.grants).not.toContain(id);
  }
}
