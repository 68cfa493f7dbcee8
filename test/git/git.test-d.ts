import { expectTypeOf, test } from "vitest";
import {
  type AdvanceRefResult,
  advanceRef,
  type BuildContext,
  type GitError,
  type GitErrorCode,
  type InterlockError,
  type RefConflictError,
  readRef,
  updateRef,
  updateRefs,
} from "../../src/index.js";

test("git ref types", () => {
  const cwd = ".";
  const ref = "refs/heads/x";
  expectTypeOf(readRef({ cwd, ref })).toEqualTypeOf<Promise<string | undefined>>();
  expectTypeOf(updateRef({ cwd, ref, newOid: "a", expectedOid: null })).toEqualTypeOf<
    Promise<void>
  >();
  // expectedOid is required: there is no unchecked update.
  // @ts-expect-error
  updateRef({ cwd, ref, newOid: "a" });
  expectTypeOf(
    updateRefs({ cwd, updates: [{ ref, newOid: null, expectedOid: "a" }] }),
  ).toEqualTypeOf<Promise<void>>();
  expectTypeOf(advanceRef({ cwd, ref }, async (tip) => tip ?? "a")).toEqualTypeOf<
    Promise<AdvanceRefResult>
  >();
  advanceRef({ cwd, ref }, (tip, context) => {
    expectTypeOf(tip).toEqualTypeOf<string | undefined>();
    expectTypeOf(context).toEqualTypeOf<BuildContext>();
    return "a";
  });
  // build must produce an oid.
  // @ts-expect-error
  advanceRef({ cwd, ref }, async () => 42);
  expectTypeOf<AdvanceRefResult>().toEqualTypeOf<{ oid: string; attempts: number }>();
  expectTypeOf<RefConflictError>().toExtend<GitError>();
  expectTypeOf<GitError>().toExtend<InterlockError>();
  expectTypeOf<RefConflictError["code"]>().toEqualTypeOf<"EREFCONFLICT">();
  expectTypeOf<RefConflictError["expected"]>().toEqualTypeOf<string | null>();
  expectTypeOf<RefConflictError["actual"]>().toEqualTypeOf<string | undefined>();
  expectTypeOf<GitError["code"]>().toEqualTypeOf<GitErrorCode>();
});
