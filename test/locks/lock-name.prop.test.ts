// Any string is a lock name: distinct names get distinct lock files (even on a
// case-insensitive file system), every lock file stays directly inside the manager's
// directory, never ends in `.gate` (the engine's file beside each lock file), never
// collides with the registry, and fits in a file name.
import { readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockManager } from "../../src/index.js";
import { isLockFileName, lockFileName, lockNameOf, MAX_PLAIN } from "../../src/locks/lock-name.js";
import { REGISTRY_DIR } from "../../src/locks/registry.js";
import { useTempDir } from "../helpers/temp-dir.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const newTempDir = useTempDir();

// Names that stress the encoding: path syntax, escapes that look like ours, case, lone
// surrogates, long runs, and arbitrary UTF-16.
const tricky = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom("a", "A", ".", "/", "\\", "%", "u", "~", "\0", "0", "F", "-", "_"),
    maxLength: 30,
  }),
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    maxLength: 20,
  }),
  fc.string({ unit: fc.constantFrom("x", "é", "\uD800", "/"), minLength: 20, maxLength: 400 }),
  fc.constantFrom(
    "",
    ".",
    "..",
    "../x",
    "/etc/passwd",
    "a/b",
    "A",
    "a",
    ".registry",
    "x.lock",
    "x.gate",
    "%41",
    "\uD800",
    "\uFFFD",
  ),
);

describe("lock file names", () => {
  it("are injective, case-insensitively too, and confined", () => {
    fc.assert(
      fc.property(fc.uniqueArray(tricky, { minLength: 2, maxLength: 30 }), (names) => {
        const files = names.map(lockFileName);
        expect(new Set(files).size).toBe(names.length);
        expect(new Set(files.map((f) => f.toLowerCase())).size).toBe(names.length);
        for (const f of files) {
          expect(f).toMatch(/\.lock$/);
          expect(f).not.toMatch(/\.gate$/);
          expect(f).not.toMatch(/[/\\\0]/);
          expect(f).not.toBe(REGISTRY_DIR);
          expect(Buffer.byteLength(`${f}.gate`)).toBeLessThanOrEqual(255);
          expect(isLockFileName(f)).toBe(true);
          const inside = resolve("/base", f);
          expect(dirname(inside)).toBe("/base");
          expect(basename(inside)).toBe(f);
        }
      }),
      { numRuns: stress ? 5_000 : 500 },
    );
  });

  it("decode back to their name when plain; hashed ones (long names) keep a readable prefix", () => {
    fc.assert(
      fc.property(tricky, (name) => {
        const file = lockFileName(name);
        if (file.includes("~")) {
          expect(lockNameOf(file)).toBeUndefined();
          expect(file.length).toBeLessThan(MAX_PLAIN);
        } else {
          expect(lockNameOf(file)).toBe(name);
        }
      }),
      { numRuns: stress ? 5_000 : 500 },
    );
    expect(lockFileName("deploy")).toBe("deploy.lock");
    expect(lockFileName("Deploy")).toBe("%44eploy.lock");
    expect(lockFileName("a/b")).toBe("a%2Fb.lock");
    expect(lockFileName("x".repeat(500))).toMatch(/^x{64}~[0-9a-f]{64}\.lock$/);
  });

  it("through request(): arbitrary names are distinct locks whose files stay inside dir", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(tricky, { minLength: 1, maxLength: 8 }), async (names) => {
        const dir = join(newTempDir(), "locks");
        const locks = new LockManager({ dir });
        // Names starting with "-" are refused (tested elsewhere).
        const names2 = names.filter((n) => !n.startsWith("-"));
        fc.pre(names2.length > 0);
        // All held at once, nested: two names sharing a file would make ifAvailable null.
        const nest = async (i: number): Promise<string[]> => {
          if (i === names2.length) return [];
          return locks.request(names2[i]!, { ifAvailable: true }, async (lock) => [
            lock === null ? "BUSY" : lock.name,
            ...(await nest(i + 1)),
          ]);
        };
        expect(await nest(0)).toEqual(names2);
        const files = readdirSync(dir).filter((f) => f !== REGISTRY_DIR && !f.endsWith(".gate"));
        expect(files.sort()).toEqual(names2.map(lockFileName).sort());
        // Nothing escaped: the parent holds only `locks`.
        expect(readdirSync(dirname(dir))).toEqual(["locks"]);
        const snap = await locks.query();
        expect(snap).toEqual({ held: [], pending: [] });
      }),
      { numRuns: stress ? 300 : 40 },
    );
  });
});
