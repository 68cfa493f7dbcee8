import { startCluster } from "./test/postgres/cluster.js";
import { connectPostgres } from "./src/postgres/index.js";
const cluster = await startCluster({ fsync: "off" });
try {
  const a = await connectPostgres({ connectionString: cluster.url, namespace: "x" });
  const b = await connectPostgres({ connectionString: cluster.url, namespace: "x" });
  console.log(await a.locks.request("r", (l) => ({ ...l, sig: l.signal.aborted })));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = a.locks.request("r", { holder: { purpose: "hold" } }, async (l) => { await gate; return l.token; });
  await new Promise((r) => setTimeout(r, 50));
  const w1 = b.locks.request("r", { mode: "shared", holder: { purpose: "w1" } }, (l) => l.token);
  const w2 = b.locks.request("r", { holder: { purpose: "w2" } }, (l) => l.token);
  const w3 = a.locks.request("r", { mode: "shared" }, (l) => l.token);
  await new Promise((r) => setTimeout(r, 100));
  console.log("from b", JSON.stringify(await b.locks.query(), null, 1));
  const c = await connectPostgres({ connectionString: cluster.url, namespace: "x" });
  console.log("from c", JSON.stringify(await c.locks.query(), null, 1));
  release();
  console.log(await Promise.all([held, w1, w2, w3]));
  console.log("after", JSON.stringify(await c.locks.query()));
  await Promise.all([a.close(), b.close(), c.close()]);
} finally {
  await cluster.stop();
}
