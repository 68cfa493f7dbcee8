import { defineConfig } from "vitest/config";

// Projects: `unit` is the fast inner loop on src/; `postgres` needs a throwaway server
// (its globalSetup starts one); `package` runs what users install (its globalSetup
// builds, packs and installs the tarball). `vitest run --project unit` runs one.
export default defineConfig({
  test: {
    // Cross-process tests spawn real children; keep the 2-core CI machine from
    // oversubscribing so their bounded waits stay meaningful.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          globalSetup: ["test/setup/require-fs-ext.ts"],
          include: ["test/**/*.test.ts"],
          exclude: ["test/package/**", "test/postgres/**", "**/node_modules/**"],
          typecheck: { enabled: true, include: ["test/**/*.test-d.ts"] },
        },
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: ["test/postgres/**/*.test.ts"],
          globalSetup: ["test/postgres/global-setup.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "package",
          include: ["test/package/**/*.test.ts"],
          globalSetup: ["test/package/global-setup.ts"],
          // Each check forks its own processes; run them one at a time.
          maxWorkers: 1,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
