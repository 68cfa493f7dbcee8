import { createHash } from "node:crypto";

/**
 * What a 64-bit advisory-lock key stands for. User locks, registry owners and the schema
 * migration live in separate kinds, so no lock name can collide with an internal key
 * except by a SHA-256 prefix collision.
 */
export type KeyKind = "lock" | "owner" | "migrate" | "probe";

const SEP = "\u001f";

/**
 * The advisory-lock key of `name`: the first 8 bytes of
 * SHA-256("interlock" US kind US namespace US name) as a signed bigint, in decimal
 * (the form `pg` sends for a bigint parameter). The schema's `lock_key(kind, ns, name)`
 * SQL function computes the same value, so an operator can find a lock in `pg_locks`
 * from psql. A collision between two names makes them share one lock: extra waiting,
 * never a lost exclusion.
 */
export function advisoryKey(kind: KeyKind, namespace: string, name: string): string {
  const digest = createHash("sha256")
    .update(`interlock${SEP}${kind}${SEP}${namespace}${SEP}${name}`, "utf8")
    .digest();
  return digest.readBigInt64BE(0).toString();
}

/** SQL that computes {@link advisoryKey} server-side; `$1`..`$3` = kind, namespace, name. */
export const ADVISORY_KEY_SQL =
  "('x' || left(encode(sha256(convert_to('interlock' || chr(31) || $1 || chr(31) || $2 || chr(31) || $3, 'UTF8')), 'hex'), 16))::bit(64)::bigint";
