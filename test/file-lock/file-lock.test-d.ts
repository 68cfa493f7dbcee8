import { expectTypeOf, test } from "vitest";
import {
  acquireFileLock,
  type FileLockHandle,
  type LockHolder,
  readLockHolder,
  tryAcquireFileLock,
  withFileLock,
} from "../../src/file-lock/index.js";
import { isProcessAlive, processStartTime } from "../../src/process/index.js";

test("file lock types", () => {
  expectTypeOf(acquireFileLock("x")).toEqualTypeOf<Promise<FileLockHandle>>();
  expectTypeOf(tryAcquireFileLock("x")).toEqualTypeOf<Promise<FileLockHandle | undefined>>();
  expectTypeOf<FileLockHandle>().toExtend<AsyncDisposable>();
  expectTypeOf<FileLockHandle["mode"]>().toEqualTypeOf<"exclusive" | "shared">();
  expectTypeOf(withFileLock("x", () => 42)).toEqualTypeOf<Promise<number>>();
  expectTypeOf(withFileLock("x", async (lock) => lock.path)).toEqualTypeOf<Promise<string>>();
  expectTypeOf(readLockHolder("x")).toEqualTypeOf<Promise<LockHolder | undefined>>();
  expectTypeOf<LockHolder["pid"]>().toEqualTypeOf<number>();
  // tryAcquireFileLock never waits: no signal or timeout to give it.
  // @ts-expect-error
  tryAcquireFileLock("x", { timeoutMs: 5 });
  expectTypeOf(isProcessAlive).returns.toEqualTypeOf<boolean>();
  expectTypeOf(processStartTime).returns.toEqualTypeOf<number | undefined>();
});
