import { describe } from "../internal/describe.js";
import { validateOptions } from "../internal/options.js";

// Checked before git runs, so a bad argument is a synchronous TypeError at the call
// rather than a classified git failure later (and so that nothing reaches git's stdin
// protocol that could be read as another command).

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Why `ref` breaks git's ref-name rules (git-check-ref-format(1)), or undefined. */
function refNameProblem(ref: string): string | undefined {
  if (ref.endsWith("/") || ref.includes("//")) return "has an empty path component";
  if (ref.endsWith(".")) return "ends with a dot";
  if (ref.includes("..")) return 'contains ".."';
  if (ref.includes("@{")) return 'contains "@{"';
  // Control characters, DEL, space and the characters git reserves for revision syntax.
  if (/[ ~^:?*[\\]/.test(ref) || hasControlCharacter(ref)) {
    return "contains a space, a control character or one of ~ ^ : ? * [ \\";
  }
  for (const part of ref.split("/")) {
    if (part.startsWith(".")) return `has a component starting with a dot ("${part}")`;
    if (part.endsWith(".lock")) return `has a component ending in ".lock" ("${part}")`;
  }
  return undefined;
}

/**
 * A full ref name (`refs/...`), or `HEAD` when `allowHead`. Short names like `main` are
 * refused rather than guessed: `main` could be a branch, a tag or a remote.
 */
export function checkRef(ref: unknown, what: string, allowHead: boolean): string {
  if (typeof ref !== "string") {
    throw new TypeError(
      `Expected \`${what}\` to be a full ref name like "refs/heads/main", got ${describe(ref)}`,
    );
  }
  if (allowHead && ref === "HEAD") return ref;
  if (!ref.startsWith("refs/") || ref.length === 5) {
    throw new TypeError(
      `Expected \`${what}\` to be a full ref name starting with "refs/" (like "refs/heads/main")${allowHead ? ' or "HEAD"' : ""}, got ${describe(ref)}`,
    );
  }
  const problem = refNameProblem(ref);
  if (problem !== undefined) {
    throw new TypeError(
      `Expected \`${what}\` to be a valid git ref name, got ${describe(ref)}, which ${problem}`,
    );
  }
  return ref;
}

/**
 * An object id: 40 (SHA-1) or 64 (SHA-256) hex digits, returned in lower case. Whether
 * the length matches the repository is checked once the repository is known.
 */
export function checkOid(oid: unknown, what: string): string {
  if (typeof oid !== "string" || !/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(oid)) {
    throw new TypeError(
      `Expected \`${what}\` to be an object id of 40 or 64 hex digits (a full commit id, not an abbreviation or a ref name), got ${describe(oid)}`,
    );
  }
  return oid.toLowerCase();
}

export function checkCwd(cwd: unknown): string {
  if (typeof cwd !== "string" || cwd === "" || cwd.includes("\0")) {
    throw new TypeError(
      `Expected \`cwd\` to be the path of a git checkout (a non-empty string), got ${describe(cwd)}`,
    );
  }
  return cwd;
}

export function checkObject(options: unknown, what: string): Record<string, unknown> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Expected \`${what}\` to be an object, got ${describe(options)}`);
  }
  return options as Record<string, unknown>;
}

export function checkSignal(signal: unknown): AbortSignal | undefined {
  validateOptions({ signal: signal as AbortSignal | undefined });
  return signal as AbortSignal | undefined;
}

export function checkMessage(message: unknown): string | undefined {
  if (message === undefined) return undefined;
  if (typeof message !== "string" || message.includes("\0")) {
    throw new TypeError(
      `Expected \`message\` (the reflog message) to be a string without NUL bytes, got ${describe(message)}`,
    );
  }
  return message;
}
