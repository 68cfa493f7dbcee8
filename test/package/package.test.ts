// The package tier: black-box checks of the installed tarball, through `import`,
// `require` and TypeScript, as root and as an unprivileged user.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { app, copyIntoApp, isRoot, NOBODY, node, root, scratchDir } from "./helpers.js";

const checks = readdirSync(join(root, "test/package/checks"))
  .filter((f) => /\.(mjs|cjs)$/.test(f))
  .sort();
// Checks that need a PostgreSQL server get its URL from the package tier's setup.
const users = isRoot ? [undefined, NOBODY] : [undefined];

beforeAll(() => {
  copyIntoApp("test/package/checks", "checks");
});

describe.each(users)("installed package, %s", (user) => {
  const who = user === undefined ? "as the current user" : "as uid 65534";
  it.each(checks)(`checks/%s passes ${who}`, async (check) => {
    const r = await node([join("checks", check), scratchDir(user)], {
      user,
      env: { INTERLOCK_PG_URL: inject("packagePgUrl") },
    });
    expect(r.stdout + r.stderr, `${check} ${who}`).not.toMatch(/^FAIL/m);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

describe("TypeScript consumers (module nodenext) against the shipped .d.ts", () => {
  it("type-check, compile and run: ESM with `await using`, and CommonJS", async () => {
    const dir = copyIntoApp("test/package/types", "ts");
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: "./tsconfig.base.json",
        compilerOptions: { typeRoots: [join(root, "node_modules/@types")] },
      }),
    );
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    try {
      execFileSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      throw new Error(`tsc failed:\n${(err as { stdout: string }).stdout}`);
    }
    const esm = await node([join(dir, "out/consumer.mjs"), scratchDir()]);
    expect(esm.stderr).toBe("");
    expect(esm.stdout).toBe("ok ELOCKTIMEOUT 1\n");
    const cjs = await node([join(dir, "out/consumer.cjs"), scratchDir()]);
    expect(cjs.stderr).toBe("");
    expect(cjs.stdout).toBe("ok true 0\n");
  });
});

describe("what the tarball ships", () => {
  it("README and docs link only to files that are in the package", () => {
    const pkg = join(app(), "node_modules/interlock");
    const pages = ["README.md", ...readdirSync(join(pkg, "docs")).map((f) => `docs/${f}`)];
    const dead: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(pkg, page), "utf8");
      for (const m of text.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        if (!existsSync(resolve(dirname(join(pkg, page)), target)))
          dead.push(`${page} -> ${target}`);
      }
    }
    expect(dead).toEqual([]);
  });

  it("installs without a C++ toolchain: in-process primitives work, file locks say why not", async () => {
    const dir = scratchDir();
    mkdirSync(join(dir, "app"));
    writeFileSync(join(dir, "app/package.json"), '{"name":"no-toolchain","private":true}\n');
    // The install must succeed even though fs-ext cannot compile.
    execFileSync(
      "npm",
      ["install", inject("tarball"), "--no-audit", "--no-fund", "--prefer-offline"],
      {
        cwd: join(dir, "app"),
        stdio: "pipe",
        env: { ...process.env, CC: "/bin/false", CXX: "/bin/false" },
      },
    );
    expect(existsSync(join(dir, "app/node_modules/fs-ext"))).toBe(false);
    const script = `
      const m = require("interlock");
      const mutex = new m.Mutex();
      mutex.runExclusive(() => "mutex ok").then(async (v) => {
        console.log(v);
        const err = await m.acquireFileLock(${JSON.stringify(join(dir, "x.lock"))}).catch((e) => e);
        console.log(err.code, /fs-ext is not installed/.test(err.message), /C\\+\\+ toolchain/.test(err.message));
      });`;
    const r = await node(["-e", script], { cwd: join(dir, "app") });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("mutex ok\nEFLOCKUNAVAILABLE true true\n");
    expect(existsSync(join(dir, "x.lock"))).toBe(false);
  });
});
