/**
 * The order `query()` lists its entries in, for every LockManager: oldest first; at the
 * same moment, by client, then in the order the client made its requests.
 */
export function byAge(
  a: { since: number; clientId: string; seq: number },
  b: { since: number; clientId: string; seq: number },
): number {
  return (
    a.since - b.since ||
    (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0) ||
    a.seq - b.seq
  );
}
