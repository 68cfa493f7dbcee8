import { createHash } from "node:crypto";

/**
 * What a 64-bit advisory-lock key stands for. User locks, registry owners and the schema
 * migration live in separate kinds, so no lock name can collide with an internal key
 * except by a SHA-256 prefix collision.
 */
export type KeyKind = "lock" | "owner" | "migrate" | "probe";

const SEP = "\u001f";

// A lone surrogate (in a `u` regex, a pair is one code point, never `Cs`).
const LONE_SURROGATE = /\p{Cs}/u;
const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s);

/**
 * The advisory-lock key of `name`: the first 8 bytes of
 * SHA-256("interlock" US kind US namespace US name) as a signed bigint, in decimal
 * (the form `pg` sends for a bigint parameter). The schema's `lock_key(kind, ns, name)`
 * SQL function computes the same value, so an operator can find a lock in `pg_locks`
 * from psql. A collision between two names makes them share one lock: extra waiting,
 * never a lost exclusion.
 */
export function advisoryKey(kind: KeyKind, namespace: string, name: string): string {
  const hash = createHash("sha256");
  if (isWellFormed(name)) {
    hash.update(`interlock${SEP}${kind}${SEP}${namespace}${SEP}${name}`, "utf8");
  } else {
    // A lone surrogate has no UTF-8 form (encoding would turn it into U+FFFD, making
    // "\uD800" and "\uFFFD" one lock): such a name is hashed as its UTF-16 code units
    // after a 0xFF byte, which no UTF-8 text contains, so it can equal no other name.
    hash.update(`interlock${SEP}${kind}${SEP}${namespace}${SEP}`, "utf8");
    hash.update(Buffer.from([0xff]));
    hash.update(Buffer.from(name, "utf16le"));
  }
  return hash.digest().readBigInt64BE(0).toString();
}

/**
 * `name` as a text column can hold it: itself, or, if it has a NUL or a lone surrogate
 * (which PostgreSQL text cannot store), its JSON string literal. {@link storedNameOf}
 * reverses it, told apart by the key.
 */
export function storedName(name: string): string {
  return isWellFormed(name) && !name.includes("\0") ? name : JSON.stringify(name);
}

/**
 * The name a stored name stands for, given the key it was stored with (`undefined` if
 * neither reading matches: a name of another kind or namespace).
 */
export function storedNameOf(
  stored: string,
  key: string,
  keyOf: (name: string) => string,
): string | undefined {
  if (keyOf(stored) === key) return stored;
  if (!stored.startsWith('"')) return undefined;
  let name: unknown;
  try {
    name = JSON.parse(stored);
  } catch {
    return undefined;
  }
  return typeof name === "string" && keyOf(name) === key ? name : undefined;
}

/** SQL that computes {@link advisoryKey} server-side; `$1`..`$3` = kind, namespace, name. */
export const ADVISORY_KEY_SQL =
  "('x' || left(encode(sha256(convert_to('interlock' || chr(31) || $1 || chr(31) || $2 || chr(31) || $3, 'UTF8')), 'hex'), 16))::bit(64)::bigint";
