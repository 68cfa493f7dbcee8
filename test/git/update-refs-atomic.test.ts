import { describe, expect, it } from "vitest";
import { RefConflictError, RefNotFoundError, updateRefs } from "../../src/git/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { commit, git, initRepo, type ObjectFormat, revParse } from "./helpers.js";

const tempDir = useTempDir();
const refs = ["refs/heads/one", "refs/heads/two", "refs/tags/v1", "refs/heads/three"];

describe.each(["sha1", "sha256"] as ObjectFormat[])("updateRefs in a %s repository", (format) => {
  const setup = () => {
    const cwd = initRepo(tempDir(), format);
    const a = commit(cwd, undefined, "a");
    const b = commit(cwd, a, "b");
    for (const ref of refs.slice(0, 2)) git(cwd, "update-ref", ref, a);
    git(cwd, "update-ref", refs[3]!, a);
    return { cwd, a, b };
  };
  const snapshot = (cwd: string) => refs.map((r) => revParse(cwd, r));

  it("applies every update when every expectation holds", async () => {
    const { cwd, a, b } = setup();
    await updateRefs({
      cwd,
      updates: [
        { ref: refs[0]!, newOid: b, expectedOid: a },
        { ref: refs[1]!, newOid: b, expectedOid: a },
        { ref: refs[2]!, newOid: b, expectedOid: null },
        { ref: refs[3]!, newOid: null, expectedOid: a },
      ],
    });
    expect(snapshot(cwd)).toEqual([b, b, b, undefined]);
  });

  // The failing update first, in the middle, last: a one-by-one implementation would
  // have applied the updates before it.
  it.each([0, 1, 2, 3])("one bad expectation (update %i) → nothing applied", async (bad) => {
    const { cwd, a, b } = setup();
    const before = snapshot(cwd);
    const updates = [
      { ref: refs[0]!, newOid: b, expectedOid: a },
      { ref: refs[1]!, newOid: b, expectedOid: a },
      { ref: refs[2]!, newOid: b, expectedOid: null as string | null },
      { ref: refs[3]!, newOid: null, expectedOid: a },
    ];
    // Expect b where the ref is at a (or, for the missing tag, expect a: it is absent).
    updates[bad]!.expectedOid = bad === 2 ? a : b;
    const err = await updateRefs({ cwd, updates }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(bad === 2 ? RefNotFoundError : RefConflictError);
    expect((err as RefConflictError).ref).toBe(refs[bad]);
    expect(snapshot(cwd)).toEqual(before);
  });

  it("refuses a ref listed twice, synchronously", () => {
    const { cwd, a, b } = setup();
    expect(() =>
      updateRefs({
        cwd,
        updates: [
          { ref: refs[0]!, newOid: b, expectedOid: a },
          { ref: refs[0]!, newOid: a, expectedOid: b },
        ],
      }),
    ).toThrow(/lists refs\/heads\/one more than once/);
  });
});

describe("updateRefs arguments", () => {
  it("refuses an empty or missing list and names the bad update's index", () => {
    expect(() => updateRefs({ cwd: "/x", updates: [] })).toThrow(/non-empty array/);
    expect(() => updateRefs({ cwd: "/x" } as any)).toThrow(/got undefined/);
    expect(() =>
      updateRefs({
        cwd: "/x",
        updates: [
          { ref: "refs/heads/a", newOid: "a".repeat(40), expectedOid: null },
          { ref: "heads/b", newOid: "a".repeat(40), expectedOid: null },
        ],
      }),
    ).toThrow(/`updates\[1\]\.ref`/);
  });
});
