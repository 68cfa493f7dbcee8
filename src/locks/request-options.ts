// The arguments of `request()` as every LockManager takes them (the file-lock one of this
// folder and the PostgreSQL backend's `locks`): one set of checks, one set of messages.
import { describe } from "../internal/describe.js";
import { holderJson } from "../internal/holder-json.js";
import { validateOptions } from "../internal/options.js";
import { NotSupportedError } from "./errors.js";
import type { LockMode, LockRequestOptions } from "./types.js";

/** Longest accepted name, in UTF-16 code units: it travels in every holder record. */
export const MAX_NAME_LENGTH = 4096;
/** Longest accepted `holder`, as JSON: a label, not storage. */
const MAX_HOLDER_JSON = 4096;

export interface ParsedRequestOptions {
  mode: LockMode;
  ifAvailable: boolean;
  steal: boolean;
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  /** A copy of `holder`: what query() reports is what was true when the request was made. */
  holder: Record<string, unknown> | undefined;
  /** `holder` as the JSON text it was checked as (for a backend that stores it as text). */
  holderJson: string | undefined;
}

const DEFAULTS: ParsedRequestOptions = {
  mode: "exclusive",
  ifAvailable: false,
  steal: false,
  signal: undefined,
  timeoutMs: undefined,
  holder: undefined,
  holderJson: undefined,
};

export function checkName(name: unknown): asserts name is string {
  if (typeof name !== "string") {
    throw new TypeError(`Expected the lock \`name\` to be a string, got ${describe(name)}`);
  }
  if (name.startsWith("-")) {
    throw new NotSupportedError(
      `Lock names starting with "-" are reserved by the Web Locks API; got ${describe(name)}`,
    );
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new RangeError(
      `Expected the lock \`name\` to be at most ${MAX_NAME_LENGTH} characters, got ${name.length}: it is written into every holder record; name the thing, not its content`,
    );
  }
}

function checkFlag(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") {
    throw new TypeError(`Expected \`${what}\` to be a boolean, got ${describe(value)}`);
  }
  return value;
}

function parseOptions(options: unknown): ParsedRequestOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Expected \`options\` to be an object such as { mode: "shared", timeoutMs: 1000 }, got ${describe(options)}`,
    );
  }
  const o = options as LockRequestOptions;
  validateOptions(o);
  const { mode = "exclusive" } = o;
  if (mode !== "exclusive" && mode !== "shared") {
    throw new TypeError(`Expected \`mode\` to be "exclusive" or "shared", got ${describe(mode)}`);
  }
  const json = holderJson(o.holder, [], MAX_HOLDER_JSON);
  const parsed: ParsedRequestOptions = {
    mode,
    ifAvailable: checkFlag(o.ifAvailable, "ifAvailable"),
    steal: checkFlag(o.steal, "steal"),
    signal: o.signal,
    timeoutMs: o.timeoutMs,
    holder: json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>),
    holderJson: json,
  };
  // The combinations the Web Locks API refuses, refused the same way.
  if (parsed.steal && parsed.ifAvailable) {
    throw new NotSupportedError("`steal` and `ifAvailable` cannot be combined: pick one");
  }
  if (parsed.steal && mode === "shared") {
    throw new NotSupportedError('`steal` needs mode "exclusive": a shared lock cannot be stolen');
  }
  if (parsed.signal !== undefined && (parsed.steal || parsed.ifAvailable)) {
    throw new NotSupportedError(
      `\`signal\` cannot be combined with \`${parsed.steal ? "steal" : "ifAvailable"}\`: that request never waits, so there is nothing to abort`,
    );
  }
  if (parsed.timeoutMs !== undefined && parsed.ifAvailable) {
    throw new NotSupportedError(
      "`timeoutMs` cannot be combined with `ifAvailable`: that request never waits",
    );
  }
  return parsed;
}

/**
 * Checks `request(name, callback)` / `request(name, options, callback)` synchronously and
 * returns the parsed options and the callback.
 */
export function parseRequest(
  name: unknown,
  optionsOrCallback: unknown,
  maybeCallback: unknown,
): { options: ParsedRequestOptions; callback: (lock: never) => unknown } {
  checkName(name);
  let options: ParsedRequestOptions;
  let callback: unknown;
  if (typeof optionsOrCallback === "function") {
    if (maybeCallback !== undefined) {
      throw new TypeError(
        "Expected request(name, options, callback): the options go before the callback",
      );
    }
    options = DEFAULTS;
    callback = optionsOrCallback;
  } else {
    options = parseOptions(optionsOrCallback);
    callback = maybeCallback;
  }
  if (typeof callback !== "function") {
    throw new TypeError(
      `Expected \`callback\` to be a function that runs while the lock is held, got ${describe(callback)}`,
    );
  }
  return { options, callback: callback as (lock: never) => unknown };
}
