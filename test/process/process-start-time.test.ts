import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { processStartTime } from "../../src/process/index.js";
import { parseLstart } from "../../src/process/start-time-darwin.js";
import { parseProcStat } from "../../src/process/start-time-linux.js";
import { startTimeUnsupported } from "../../src/process/start-time-unsupported.js";

describe("processStartTime", () => {
  it("is stable for a live process and undefined for one that has exited", () => {
    const a = processStartTime(process.pid);
    expect(a).toBeTypeOf("number");
    expect(processStartTime(process.pid)).toBe(a);
    const { pid } = spawnSync(process.execPath, ["-e", "0"]);
    expect(processStartTime(pid!)).toBeUndefined();
  });

  it("on Linux is field 22 of /proc/<pid>/stat", () => {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const field22 = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    expect(processStartTime(process.pid)).toBe(field22);
  });

  it("rejects non-PIDs", () => {
    expect(() => processStartTime(0)).toThrow(RangeError);
    expect(() => processStartTime(-5)).toThrow(RangeError);
  });
});

describe("parseProcStat", () => {
  const fields = (comm: string) =>
    `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615`;

  it("counts fields after the last parenthesis, whatever the command name holds", () => {
    expect(parseProcStat(fields("node"))).toEqual({ state: "S", startTime: 987654 });
    expect(parseProcStat(fields("a) R 1 2 (b"))).toEqual({ state: "S", startTime: 987654 });
    expect(parseProcStat(fields("with space"))).toEqual({ state: "S", startTime: 987654 });
  });

  it("is undefined for garbage", () => {
    expect(parseProcStat("")).toBeUndefined();
    expect(parseProcStat("4242 (x) S 1")).toBeUndefined();
  });
});

describe("parseLstart (macOS ps -o lstart=, C locale, UTC)", () => {
  it("parses to milliseconds since the epoch", () => {
    expect(parseLstart("Tue Jun  4 09:26:01 2024\n")).toBe(Date.UTC(2024, 5, 4, 9, 26, 1));
    expect(parseLstart("Sun Dec 31 23:59:59 2023")).toBe(Date.UTC(2023, 11, 31, 23, 59, 59));
  });

  it("is undefined for anything else", () => {
    expect(parseLstart("")).toBeUndefined();
    expect(parseLstart("4 juin 2024 09:26:01")).toBeUndefined();
  });
});

describe("platforms without a start-time source", () => {
  it("say undefined instead of guessing", () => {
    expect(startTimeUnsupported(process.pid)).toBeUndefined();
  });
});
