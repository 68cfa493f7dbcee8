// Lock names → lock file names inside the manager's directory.
//
// Any JavaScript string is a lock name, lone surrogates included ('\uD800' and '\uFFFD'
// are two locks, as in the Web Locks API), so the encoding works on UTF-16 code units,
// never through UTF-8 (which would turn every lone surrogate into U+FFFD). It must be:
// - injective: two names never share a file;
// - confined: no '/', '\\', NUL or separator survives, and the suffix keeps '.' and '..'
//   from ever being a whole path component;
// - injective even on case-insensitive file systems (macOS, Windows): letters are kept
//   only in lower case, upper case is escaped, and escapes use upper-case hex, so
//   folding the case of an encoding still decodes to one name;
// - short enough for a 255-byte file name, with the engine's `.gate` beside it;
// - disjoint from everything else in the directory: every lock file ends in `.lock`
//   (so never in `.gate`), and the registry lives in a subdirectory without that suffix.
//
// Grammar: `[a-z0-9_.-]` stand for themselves; another code unit below 0x80 is `%HH`, one
// from 0x80 up is `%uHHHH`. (`u` is not a hex digit, so the two forms cannot be confused.)
// An encoding longer than MAX_PLAIN is cut to a readable prefix (at an escape boundary)
// followed by `~` and the SHA-256 of the whole encoding: `~` never appears in a plain
// encoding (it is escaped), so hashed and plain file names cannot collide either.
import { createHash } from "node:crypto";

export const LOCK_SUFFIX = ".lock";
/** The longest plain encoding; longer ones are hashed. */
export const MAX_PLAIN = 160;
/** Characters of the readable prefix before the hash. */
const PREFIX = 64;

const PLAIN = /^[a-z0-9_.-]*$/;

function safe(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x2d
  );
}

function escapeName(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (safe(c)) out += name[i];
    else if (c < 0x80) out += `%${c.toString(16).toUpperCase().padStart(2, "0")}`;
    else out += `%u${c.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return out;
}

/** The longest prefix of `escaped` of at most `max` characters that ends between escapes. */
function readablePrefix(escaped: string, max: number): string {
  let end = 0;
  for (let i = 0; i < escaped.length; ) {
    const step = escaped[i] !== "%" ? 1 : escaped[i + 1] === "u" ? 6 : 3;
    if (i + step > max) break;
    i += step;
    end = i;
  }
  return escaped.slice(0, end);
}

/**
 * The file name (no directory) of the lock file for `name`: `deploy` → `deploy.lock`,
 * `a/b` → `a%2Fb.lock`, `Deploy` → `%44eploy.lock`.
 */
export function lockFileName(name: string): string {
  if (name.length <= MAX_PLAIN && PLAIN.test(name)) return name + LOCK_SUFFIX;
  const escaped = escapeName(name);
  if (escaped.length <= MAX_PLAIN) return escaped + LOCK_SUFFIX;
  const digest = createHash("sha256").update(escaped).digest("hex");
  return `${readablePrefix(escaped, PREFIX)}~${digest}${LOCK_SUFFIX}`;
}

const ESCAPED_FILE = /^(?:[a-z0-9_.-]|%[0-9A-F]{2}|%u[0-9A-F]{4})*(?:~[0-9a-f]{64})?\.lock$/;

/** Whether `file` is a lock file name this encoding produces (plain or hashed). */
export function isLockFileName(file: string): boolean {
  return ESCAPED_FILE.test(file);
}

/**
 * The name a plain lock file name stands for; `undefined` for a hashed one (its name is
 * only in its holder record) or a file this encoding does not produce.
 */
export function lockNameOf(file: string): string | undefined {
  if (!isLockFileName(file) || file.includes("~")) return undefined;
  const escaped = file.slice(0, -LOCK_SUFFIX.length);
  let out = "";
  for (let i = 0; i < escaped.length; ) {
    if (escaped[i] !== "%") {
      out += escaped[i];
      i++;
    } else if (escaped[i + 1] === "u") {
      out += String.fromCharCode(Number.parseInt(escaped.slice(i + 2, i + 6), 16));
      i += 6;
    } else {
      out += String.fromCharCode(Number.parseInt(escaped.slice(i + 1, i + 3), 16));
      i += 3;
    }
  }
  // Only the canonical spelling stands for a name: `%61.lock` is not `a.lock`.
  return lockFileName(out) === file ? out : undefined;
}
