/**
 * Whether `value` is a promise-like: what a Web Locks callback returned that the lock must
 * be held until it settles (anything else is released at once).
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
