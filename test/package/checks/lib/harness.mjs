// A tiny harness for the package tier's black-box checks. A check is a script run as
// `node <check> <scratchDir>` inside a project that has interlock installed; it exits 0
// when every step held, 1 otherwise, printing what failed. Plain JavaScript, so it runs
// unchanged as ESM and from CommonJS checks (through a dynamic import of this file).
import { fork } from "node:child_process";
import { once } from "node:events";

export class CheckFailure extends Error {}

/** Throws a CheckFailure with `message` unless `ok`. */
export function assert(ok, message) {
  if (!ok) throw new CheckFailure(message);
}

/** Asserts that `fn` throws synchronously an error matching `expected` (fields and a message pattern). */
export function assertThrows(fn, expected, what) {
  let err;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert(err !== undefined, `${what}: expected a synchronous throw, got none`);
  matches(err, expected, what);
}

/** Asserts that `promise` rejects with an error matching `expected`. */
export async function assertRejects(promise, expected, what) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert(err !== undefined, `${what}: expected a rejection, got a fulfilment`);
  matches(err, expected, what);
  return err;
}

function matches(err, expected, what) {
  for (const [k, v] of Object.entries(expected)) {
    if (k === "message") {
      assert(
        v.test(err.message),
        `${what}: message ${JSON.stringify(err.message)} does not match ${v}`,
      );
    } else {
      assert(
        err[k] === v,
        `${what}: expected ${k} ${JSON.stringify(v)}, got ${JSON.stringify(err[k])} (${err.message})`,
      );
    }
  }
}

/**
 * Runs named steps in order, prints one line each, and exits: 0 when all held, 1 when
 * any failed. A step that throws anything fails with its message and stack.
 */
export async function runSteps(title, steps) {
  let failed = 0;
  for (const [name, fn] of steps) {
    try {
      await fn();
      console.log(`ok    ${title}: ${name}`);
    } catch (err) {
      failed++;
      console.log(
        `FAIL  ${title}: ${name}\n      ${err instanceof CheckFailure ? err.message : (err?.stack ?? err)}`,
      );
    }
  }
  process.exit(failed === 0 ? 0 : 1);
}

/**
 * A child process running the same check file (so it loads interlock the same way:
 * `import` or `require`) in `role`, with a promise for each message it sends.
 */
export function child(role, args) {
  const proc = fork(process.argv[1], ["--role", role, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const queue = [];
  const waiters = [];
  proc.on("message", (m) => {
    const w = waiters.shift();
    if (w) w.resolve(m);
    else queue.push(m);
  });
  const exited = once(proc, "exit");
  exited.then(() => {
    for (const w of waiters.splice(0))
      w.reject(new CheckFailure(`child ${role} exited before replying`));
  });
  return {
    proc,
    exited,
    next() {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.reject(new CheckFailure(`child ${role} exited before replying`));
      }
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    send(m) {
      proc.send(m);
    },
  };
}

/** In a child started by `child()`: its role and arguments, or undefined in the parent. */
export function role() {
  const i = process.argv.indexOf("--role");
  return i === -1 ? undefined : { name: process.argv[i + 1], args: process.argv.slice(i + 2) };
}

/** The next message from the parent. */
export function fromParent() {
  return new Promise((resolve) => process.once("message", resolve));
}
