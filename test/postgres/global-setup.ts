// Starts one throwaway PostgreSQL cluster for the `postgres` project and hands its URLs
// to the tests (`inject("pgUrl")`); or uses INTERLOCK_PG_URL (and INTERLOCK_PG_ADMIN_URL,
// a superuser for fault injection, defaulting to the same URL). Never skips: if no
// server can be had, setup fails and so does the run.
import type { TestProject } from "vitest/node";
import { startCluster } from "./cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const external = process.env.INTERLOCK_PG_URL;
  if (external) {
    project.provide("pgUrl", external);
    project.provide("pgAdminUrl", process.env.INTERLOCK_PG_ADMIN_URL || external);
    return;
  }
  // fsync off: these tests exercise interlock's logic, not the disk, and share two cores.
  // A server crash (test/postgres/server-restart.test.ts, its own cluster) keeps fsync on.
  const cluster = await startCluster({ fsync: "off" });
  project.provide("pgUrl", cluster.url);
  project.provide("pgAdminUrl", cluster.adminUrl);
  return () => cluster.stop();
}
