import { describe, expectTypeOf, it } from "vitest";
import {
  type AcquireOptions,
  KeyedMutex,
  KeyedRWLock,
  type LockTimeoutError,
  Mutex,
  type Releaser,
  RWLock,
  Semaphore,
  type WriteReleaser,
} from "../src/index.js";

describe("public types", () => {
  it("acquires resolve to disposable releasers", () => {
    expectTypeOf(new Mutex().acquire()).toEqualTypeOf<Promise<Releaser>>();
    expectTypeOf(new Mutex().tryAcquire()).toEqualTypeOf<Releaser | undefined>();
    expectTypeOf<Releaser>().toHaveProperty(Symbol.dispose);
    expectTypeOf(new Semaphore(2).acquire({ weight: 2 })).toEqualTypeOf<Promise<Releaser>>();
    expectTypeOf(new KeyedMutex<number>().acquire).parameter(0).toEqualTypeOf<number>();
    expectTypeOf(new KeyedMutex().acquireMany(["a"])).toEqualTypeOf<Promise<Releaser>>();
  });

  it("write locks can be downgraded; read locks cannot", () => {
    expectTypeOf(new RWLock().writeLock()).toEqualTypeOf<Promise<WriteReleaser>>();
    expectTypeOf<WriteReleaser["downgrade"]>().returns.toEqualTypeOf<Releaser>();
    expectTypeOf(new KeyedRWLock().readLock("k")).resolves.not.toHaveProperty("downgrade");
  });

  it("runExclusive passes the callback's result through", () => {
    expectTypeOf(new Mutex().runExclusive(async () => 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(new RWLock().runRead(() => "x")).toEqualTypeOf<Promise<string>>();
  });

  it("errors carry their code as a literal type", () => {
    expectTypeOf<LockTimeoutError["code"]>().toEqualTypeOf<"ELOCKTIMEOUT">();
    expectTypeOf<AcquireOptions>().toMatchTypeOf<{ signal?: AbortSignal; timeoutMs?: number }>();
  });
});
