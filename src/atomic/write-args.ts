// The arguments of writeFileAtomic (and of StateFile, which writes through it) as they
// are checked: one set of checks and messages, before anything touches the disk.
import { fileURLToPath } from "node:url";
import { describe } from "../internal/describe.js";
import type { WriteFileAtomicOptions } from "./write-file-atomic.js";

/** @internal Validated options, as `writeLocked` takes them. */
export interface WriteOptions {
  mode: number | undefined;
  fsync: boolean;
  signal: AbortSignal | undefined;
  encoding: BufferEncoding;
}

/** @internal */
export function validateWriteOptions(options: WriteFileAtomicOptions | undefined): WriteOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError("Expected `options` to be an object, e.g. `{ mode: 0o644 }`");
  }
  const mode = validateMode(options?.mode);
  const fsync = options?.fsync ?? true;
  if (typeof fsync !== "boolean") {
    throw new TypeError(`Expected \`fsync\` to be a boolean, got ${typeof fsync}`);
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("Expected `signal` to be an AbortSignal, e.g. `AbortSignal.timeout(1000)`");
  }
  const encoding = options?.encoding ?? "utf8";
  if (!Buffer.isEncoding(encoding)) {
    throw new TypeError(
      `Expected \`encoding\` to be a Buffer encoding such as "utf8", got ${String(encoding)}`,
    );
  }
  return { mode, fsync, signal, encoding };
}

/**
 * Permission bits, as `fs.chmod` takes them. Decimal by mistake is the common slip:
 * `644` is 0o1204, which sets the sticky bit and leaves the owner unable to read. Three
 * octal-looking digits that land on the special bits can only be that slip.
 */
function validateMode(mode: unknown): number | undefined {
  if (mode === undefined) return undefined;
  if (typeof mode !== "number") {
    throw new TypeError(`Expected \`mode\` to be a number such as 0o644, got ${describe(mode)}`);
  }
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(
      `Expected \`mode\` to be an integer from 0 to 0o7777, e.g. 0o644, got ${describe(mode)}`,
    );
  }
  if (mode >= 0o1000 && mode <= 777 && /^[0-7]{3}$/.test(String(mode))) {
    throw new RangeError(
      `\`mode\` ${mode} is decimal, which is 0o${mode.toString(8)} (the sticky bit and odd permissions); did you mean 0o${mode}?`,
    );
  }
  return mode;
}

/** @internal */
export function toPath(path: string | URL): string {
  if (path instanceof URL) return fileURLToPath(path);
  if (typeof path !== "string" || path.length === 0) {
    throw new TypeError(
      `Expected \`path\` to be a non-empty string or a file: URL, got ${String(path)}`,
    );
  }
  if (path.includes("\0")) throw new TypeError("Expected `path` without NUL bytes");
  if (path.endsWith("/")) {
    throw new TypeError(
      `Expected \`path\` to name a file, got ${describe(path)}, which ends with a slash (a directory)`,
    );
  }
  return path;
}

/** @internal */
export function toBytes(
  data: string | NodeJS.ArrayBufferView,
  encoding: BufferEncoding,
): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, encoding);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`Expected \`data\` to be a string, Buffer or TypedArray, got ${typeof data}`);
}
