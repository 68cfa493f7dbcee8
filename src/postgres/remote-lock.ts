import { InterlockError } from "../errors.js";
import type { Releaser } from "../internal/permit.js";
import { type LockLostError, lockLost } from "./errors.js";
import type { Loss } from "./session.js";

/**
 * `"exclusive"` (the default): one holder across every client of the database.
 * `"shared"`: any number of shared holders, and no exclusive one.
 *
 * @example
 * ```ts
 * const mode: RemoteLockMode = readOnly ? "shared" : "exclusive";
 * await using _ = await backend.acquireLock("catalog", { mode });
 * ```
 */
export type RemoteLockMode = "exclusive" | "shared";

/**
 * A held PostgreSQL lock. `token` is its fencing token; `signal` aborts when the lock
 * ends: with a {@link LockLostError} the moment a loss is known (connection ended,
 * heartbeat failed, lease deadline passed), or with an `ELOCKRELEASED` error once
 * released, so work tied to the lock can take `signal` and stop either way.
 *
 * @example
 * ```ts
 * await using lock = await backend.acquireLock("nightly-report");
 * await render({ signal: lock.signal }); // stops if the lock is lost
 * lock.assertHeld(); // throws LockLostError if it was lost meanwhile
 * await publish(report, { fence: lock.token });
 * ```
 */
export interface RemoteLockHandle extends AsyncDisposable {
  /** The lock's name, as given. */
  readonly name: string;
  readonly mode: RemoteLockMode;
  /**
   * The fencing token of this grant: greater than the token of every earlier grant of
   * any lock of this database's interlock schema, across clients, hosts and server
   * restarts. Pass it with writes (`stateStore.update(fn, { fence: token })`), so a
   * holder that lost the lock without knowing cannot overwrite a newer holder's work.
   */
  readonly token: number;
  /** Aborts when the lock ends (lost or released); see above. */
  readonly signal: AbortSignal;
  /** Whether this handle still holds the lock, as far as this process can know right now. */
  readonly held: boolean;
  /**
   * Throws unless the lock is still held: the {@link LockLostError} of a loss (checking
   * the lease deadline synchronously, so a process that was paused finds out here before
   * its timers run), or an `ELOCKRELEASED` error after release.
   */
  assertHeld(): void;
  /**
   * Gives the lock back. Idempotent (later calls return the first call's promise).
   * Rejects with the {@link LockLostError} if the lock was lost before it was released;
   * the in-process queue is released either way.
   */
  release(): Promise<void>;
}

/** What a handle asks of its lock table. @internal */
export interface HoldOwner {
  /** Gives back the server side of one hold; resolves a loss if the lock was gone. */
  releaseHold(lock: RemoteLock): Promise<Loss | undefined>;
  /** Whether the lease of this hold's session is still current (may declare a loss). */
  checkLease(lock: RemoteLock): boolean;
}

function releasedError(name: string): InterlockError {
  return new InterlockError(
    "ELOCKRELEASED",
    `The PostgreSQL lock ${JSON.stringify(name)} was released by this handle`,
  );
}

/** @internal */
export class RemoteLock implements RemoteLockHandle {
  // Made on first use of `signal`: most holders never read it, and an AbortController
  // plus an Error per release is a measurable share of an uncontended cycle.
  #controller: AbortController | undefined;
  readonly #owner: HoldOwner;
  #local: Releaser | undefined;
  #lost: LockLostError | undefined;
  #released = false;
  #releasing: Promise<void> | undefined;

  /** The lock table's record of this hold (opaque here); cleared when it ends. @internal */
  hold: unknown;

  constructor(
    owner: HoldOwner,
    readonly name: string,
    readonly mode: RemoteLockMode,
    readonly token: number,
    local: Releaser,
    hold: unknown,
  ) {
    this.hold = hold;
    this.#owner = owner;
    this.#local = local;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      const reason = this.#lost ?? (this.#released ? releasedError(this.name) : undefined);
      if (reason !== undefined) this.#controller.abort(reason);
    }
    return this.#controller.signal;
  }

  get held(): boolean {
    return !this.#released && this.#lost === undefined && this.#owner.checkLease(this);
  }

  assertHeld(): void {
    if (this.#lost === undefined && !this.#released) this.#owner.checkLease(this);
    if (this.#lost !== undefined) throw this.#lost;
    if (this.#released) throw releasedError(this.name);
  }

  /** Called by the lock table when the session under this hold is lost. */
  lose(loss: Loss): void {
    if (this.#lost !== undefined || this.#released) return;
    this.#lost = lockLost(this.name, this.token, loss.reason, loss.detail, {
      cause: loss.cause,
    });
    this.#controller?.abort(this.#lost);
  }

  release(): Promise<void> {
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  async #release(): Promise<void> {
    try {
      if (this.#lost === undefined) this.#owner.checkLease(this);
      if (this.#lost === undefined) {
        const loss = await this.#owner.releaseHold(this);
        if (loss !== undefined) this.lose(loss);
      }
      if (this.#lost !== undefined) throw this.#lost;
      this.#released = true;
      this.#controller?.abort(releasedError(this.name));
    } finally {
      // Server side first, then this process's queue: the next local waiter must find
      // the lock free on the server (or at least queued behind nobody of ours).
      const local = this.#local;
      this.#local = undefined;
      local?.release();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
