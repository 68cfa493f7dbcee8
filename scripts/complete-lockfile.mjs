// npm 11 validates every package named in an optionalDependencies map during `npm ci`,
// but `npm install` here records only the platform packages it could fetch (npm/cli#4828;
// this registry also lacks some, e.g. biome's Android builds). This fills in the missing
// entries (version, os/cpu/libc, integrity when the registry has it) so `npm ci` passes;
// npm never fetches an entry whose os/cpu do not match the machine.
// Run after `npm install` changes the lock: `node scripts/complete-lockfile.mjs`.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;

const guess = (name) => {
  const id = name.split("/").pop();
  const os = [
    "android",
    "darwin",
    "freebsd",
    "linux",
    "openbsd",
    "openharmony",
    "win32",
    "sunos",
    "aix",
    "netbsd",
  ].find((o) => id.includes(o));
  const cpu = [
    "arm64",
    "x64",
    "ia32",
    "arm",
    "loong64",
    "ppc64",
    "riscv64",
    "s390x",
    "mips64el",
  ].find((c) => id.includes(c));
  return {
    ...(os && { os: [os] }),
    ...(cpu && { cpu: [cpu] }),
    ...(id.includes("musl") && { libc: ["musl"] }),
  };
};

let added = 0;
for (const [where, pkg] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `${where ? `${where}/` : ""}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[key] || packages[hoisted]) continue;
    let meta = {};
    try {
      meta = JSON.parse(
        execFileSync(
          "npm",
          [
            "view",
            `${name}@${version}`,
            "os",
            "cpu",
            "libc",
            "dist.integrity",
            "license",
            "--json",
          ],
          {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
          },
        ),
      );
    } catch {
      meta = guess(name); // not on this registry: describe it from its name
    }
    packages[hoisted] = {
      version,
      ...(meta["dist.integrity"] && { integrity: meta["dist.integrity"] }),
      ...(meta.cpu && { cpu: [].concat(meta.cpu) }),
      ...(meta.license && { license: meta.license }),
      ...(meta.libc && { libc: [].concat(meta.libc) }),
      dev: pkg.dev,
      optional: true,
      ...(meta.os && { os: [].concat(meta.os) }),
    };
    for (const k of Object.keys(packages[hoisted]))
      if (packages[hoisted][k] === undefined) delete packages[hoisted][k];
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(path, JSON.stringify(lock, null, 2) + "\n");
console.log(`package-lock.json: ${added} optional platform entries added`);
