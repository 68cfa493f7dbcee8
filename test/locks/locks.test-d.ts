import { expectTypeOf, test } from "vitest";
import {
  type Lock,
  type LockInfo,
  LockManager,
  type LockManagerLike,
  type LockManagerSnapshot,
} from "../../src/index.js";

test("LockManager types", () => {
  const locks = new LockManager({ dir: "/tmp/x" });
  expectTypeOf(locks).toExtend<LockManagerLike>();
  expectTypeOf(locks.request("n", () => 42)).toEqualTypeOf<Promise<number>>();
  expectTypeOf(locks.request("n", async () => "s")).toEqualTypeOf<Promise<string>>();
  // Without ifAvailable the callback always gets a lock; with it, maybe null.
  locks.request("n", (lock) => expectTypeOf(lock).toEqualTypeOf<Lock>());
  locks.request("n", { mode: "shared" }, (lock) => expectTypeOf(lock).toEqualTypeOf<Lock>());
  locks.request("n", { ifAvailable: true }, (lock) =>
    expectTypeOf(lock).toEqualTypeOf<Lock | null>(),
  );
  const options: { ifAvailable?: boolean } = {};
  locks.request("n", options, (lock) => expectTypeOf(lock).toEqualTypeOf<Lock | null>());
  expectTypeOf<Lock["token"]>().toEqualTypeOf<number>();
  expectTypeOf(locks.query()).toEqualTypeOf<Promise<LockManagerSnapshot>>();
  expectTypeOf<LockInfo["mode"]>().toEqualTypeOf<"exclusive" | "shared">();
  // @ts-expect-error mode is "exclusive" | "shared"
  locks.request("n", { mode: "read" }, () => {});
  // @ts-expect-error a callback is required
  locks.request("n", {});
});
