/** Lets every pending promise reaction run: all microtasks drain before a macrotask. */
export function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface Tracked<T> {
  promise: Promise<T>;
  readonly state: "pending" | "fulfilled" | "rejected";
  readonly value: T | undefined;
  readonly error: unknown;
}

/** Records how a promise settled, so a test can assert it has *not* settled yet. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const t = { promise, state: "pending", value: undefined, error: undefined } as {
    promise: Promise<T>;
    state: "pending" | "fulfilled" | "rejected";
    value: T | undefined;
    error: unknown;
  };
  promise.then(
    (v) => {
      t.state = "fulfilled";
      t.value = v;
    },
    (e) => {
      t.state = "rejected";
      t.error = e;
    },
  );
  return t;
}
