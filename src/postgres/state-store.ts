import { LockTimeoutError } from "../errors.js";
import { validateOptions } from "../internal/options.js";
import { type BackendContext, transaction } from "./context.js";
import { StaleFenceError, StateInvalidError } from "./errors.js";

/**
 * Options of `backend.stateStore(key, options)`.
 * - `defaults` (required): the state while the key has never been written. Deep-copied
 *   (`structuredClone`) each time it is used, so `fn` may mutate what it gets.
 * - `validate`: called (and awaited) with every new state before it is written; return
 *   `false` to reject it with {@link StateInvalidError}, or throw your own error.
 *
 * @example
 * ```ts
 * const options: StateStoreOptions<{ runs: number }> = {
 *   defaults: { runs: 0 },
 *   validate: (s) => Number.isInteger(s.runs) && s.runs >= 0,
 * };
 * ```
 */
export interface StateStoreOptions<T> {
  defaults: T;
  validate?: ((state: T) => unknown) | undefined;
}

/**
 * Options of {@link PostgresStateStore.update}.
 * - `fence`: a fencing token (`lock.token`). The write is refused with
 *   {@link StaleFenceError} if a write fenced with a greater token has committed for
 *   this key; otherwise the key remembers the greatest token that wrote it.
 * - `signal`, `timeoutMs`: bound the wait for a connection and for the row lock
 *   (`AbortError`, `LockTimeoutError`); an abort before the commit writes nothing.
 *
 * @example
 * ```ts
 * await store.update((s) => ({ ...s, owner: me }), { fence: lock.token, timeoutMs: 5_000 });
 * ```
 */
export interface StateUpdateOptions {
  fence?: number | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/**
 * One JSON state value in PostgreSQL that processes on any host update without losing
 * updates.
 *
 * **Guarantee:** every `update` reads the latest committed value inside a row lock
 * (`SELECT … FOR UPDATE`) held until its own commit, calls `fn` exactly once, and
 * commits the result in the same transaction; so N concurrent updates from any number
 * of clients produce N applied changes. With `fence`, a write carrying a token older
 * than one that has written is refused.
 *
 * **Fairness:** updates of one key wait on its row lock, in the order the server
 * queues them (first come, first served).
 *
 * **Cancellation:** `timeoutMs` bounds the waits (`LockTimeoutError`), `signal` cancels
 * them (`AbortError`); an abort at any point before the commit writes nothing. A
 * transaction left idle by a paused process is ended by the server after `leaseMs`
 * (`idle_in_transaction_session_timeout`), releasing the row.
 *
 * @example
 * ```ts
 * const runs = backend.stateStore("runs", { defaults: { count: 0 } });
 * await runs.update((s) => ({ count: s.count + 1 }));
 * console.log((await runs.read()).count);
 * ```
 */
export class PostgresStateStore<T> {
  readonly key: string;
  readonly #ctx: BackendContext;
  readonly #defaults: T;
  readonly #validate: StateStoreOptions<T>["validate"];

  /** @internal Use `backend.stateStore(key, options)`. */
  constructor(ctx: BackendContext, key: string, options: StateStoreOptions<T>) {
    this.#ctx = ctx;
    this.key = key;
    this.#defaults = options.defaults;
    this.#validate = options.validate;
  }

  #sql(): { read: string; lock: string; init: string; write: string } {
    const s = this.#ctx.s;
    return {
      read: `SELECT value FROM ${s}.state WHERE ns = $1 AND key = $2`,
      lock: `SELECT value, fence FROM ${s}.state WHERE ns = $1 AND key = $2 FOR UPDATE`,
      init: `INSERT INTO ${s}.state (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO NOTHING`,
      write: `UPDATE ${s}.state SET value = $3, version = version + 1, fence = GREATEST(fence, $4), updated_at = now()
        WHERE ns = $1 AND key = $2`,
    };
  }

  /**
   * The last committed value, or a copy of `defaults` if the key was never written.
   * Takes no lock.
   *
   * @example
   * ```ts
   * const { count } = await runs.read();
   * ```
   */
  async read(): Promise<T> {
    const r = await this.#ctx.pool.query({
      text: this.#sql().read,
      values: [this.#ctx.namespace, this.key],
    });
    return r.rows.length === 0 ? structuredClone(this.#defaults) : (r.rows[0].value as T);
  }

  /**
   * Applies `fn` to the latest value under the row lock and commits what it returns;
   * resolves with the committed value. `fn` may change `current` in place and return
   * it; it may be async, and it is called exactly once (never retried).
   *
   * @throws {TypeError} synchronously when `fn` is not a function or `fence` is not a
   *   non-negative integer; as a rejection when `fn` returns `undefined`.
   * @throws {RangeError} synchronously for a bad `timeoutMs`.
   * @throws {StaleFenceError} (`ESTALEFENCE`) a newer token has written; `fn` not called.
   * @throws {StateInvalidError} `validate` returned `false`.
   * @throws {LockTimeoutError} / {AbortError} the wait gave up; nothing written.
   *
   * @example
   * ```ts
   * await runs.update((s) => ({ count: s.count + 1 }), { fence: lock.token });
   * ```
   */
  update(fn: (current: T) => T | Promise<T>, options?: StateUpdateOptions): Promise<T> {
    if (typeof fn !== "function") {
      throw new TypeError("Expected `fn` to be a function `(current) => next`");
    }
    const fence = options?.fence;
    if (
      fence !== undefined &&
      (typeof fence !== "number" || !Number.isSafeInteger(fence) || fence < 0)
    ) {
      throw new TypeError(
        `Expected \`fence\` to be a fencing token (a lock's \`token\`, a non-negative integer), got ${String(fence)}`,
      );
    }
    if (options !== undefined) validateOptions(options);
    return this.#update(fn, fence, options);
  }

  async #update(
    fn: (current: T) => T | Promise<T>,
    fence: number | undefined,
    options: StateUpdateOptions | undefined,
  ): Promise<T> {
    const sql = this.#sql();
    const ns = this.#ctx.namespace;
    const timeout = (ms: number): LockTimeoutError =>
      new LockTimeoutError(
        ms,
        `Timed out after ${ms} ms waiting for the row lock of state ${JSON.stringify(this.key)}: another update holds it`,
      );
    return transaction(this.#ctx, options ?? {}, timeout, async (query) => {
      let row = (await query({ text: sql.lock, values: [ns, this.key] }, true)).rows[0];
      if (row === undefined) {
        await query(
          { text: sql.init, values: [ns, this.key, JSON.stringify(this.#defaults)] },
          true,
        );
        row = (await query({ text: sql.lock, values: [ns, this.key] }, true)).rows[0];
      }
      const newest = Number(row.fence);
      if (fence !== undefined && newest > fence) throw new StaleFenceError(this.key, fence, newest);
      const next = await fn(row.value as T);
      if (next === undefined) {
        throw new TypeError(
          "`fn` returned undefined; return the new state (forgot `return current`?)",
        );
      }
      if (this.#validate !== undefined && (await this.#validate(next)) === false) {
        throw new StateInvalidError(this.key);
      }
      const text = JSON.stringify(next);
      await query({ text: sql.write, values: [ns, this.key, text, fence ?? 0] });
      // What a later read() returns: the value as stored, not the caller's object.
      return JSON.parse(text) as T;
    });
  }
}
