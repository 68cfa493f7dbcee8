/**
 * Something waiting that wants to hear when a signal aborts. Objects, not closures, so
 * a waiter subscribes itself without allocating a callback.
 */
export interface AbortSubscriber {
  abortWith(reason: unknown): void;
}

/**
 * Subscribers grouped by the signal they listen to, with one abort listener per signal.
 * Orchestrators pass one shutdown signal to hundreds of waits (in-process queues, file
 * locks, their sleeps); a listener each would trip Node's MaxListenersExceededWarning at
 * eleven.
 */
interface Watch {
  subscribers: Set<AbortSubscriber>;
  listener: () => void;
}
const watches = new WeakMap<AbortSignal, Watch>();

/** Calls `s.abortWith(signal.reason)` when `signal` aborts, until `unsubscribe`. */
export function subscribe(signal: AbortSignal, s: AbortSubscriber): void {
  let entry = watches.get(signal);
  if (entry === undefined) {
    const subscribers = new Set<AbortSubscriber>();
    const listener = () => {
      watches.delete(signal);
      for (const x of subscribers) x.abortWith(signal.reason);
    };
    entry = { subscribers, listener };
    watches.set(signal, entry);
    signal.addEventListener("abort", listener, { once: true });
  }
  entry.subscribers.add(s);
}

/** Stops `s` hearing of `signal`; the last one out removes the listener. */
export function unsubscribe(signal: AbortSignal, s: AbortSubscriber): void {
  const entry = watches.get(signal);
  if (entry === undefined || !entry.subscribers.delete(s) || entry.subscribers.size > 0) return;
  watches.delete(signal);
  signal.removeEventListener("abort", entry.listener);
}

/**
 * As {@link subscribe}, for a callback, which hears `signal.reason`. Returns the function
 * that stops it hearing (idempotent). For waits that would otherwise each add their own
 * listener to a signal that many of them share.
 */
export function listenForAbort(signal: AbortSignal, fn: (reason: unknown) => void): () => void {
  const s: AbortSubscriber = { abortWith: fn };
  subscribe(signal, s);
  return () => unsubscribe(signal, s);
}
