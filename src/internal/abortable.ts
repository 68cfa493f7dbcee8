import { AbortError } from "../errors.js";
import { subscribe, unsubscribe } from "./abort-watch.js";

/**
 * `promise`, or an `AbortError` as soon as `signal` aborts, whichever comes first. For
 * work done while a lock is held (a read, a caller's function): the lock must not wait
 * for work whose result nobody wants any more. The work itself goes on; its result, or
 * its error, is dropped.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(new AbortError(signal.reason));
  }
  return new Promise<T>((resolve, reject) => {
    const watcher = {
      abortWith(reason: unknown) {
        reject(new AbortError(reason));
      },
    };
    subscribe(signal, watcher);
    promise.then(
      (v) => {
        unsubscribe(signal, watcher);
        resolve(v);
      },
      (e) => {
        unsubscribe(signal, watcher);
        reject(e);
      },
    );
  });
}
