import { describe, expectTypeOf, it } from "vitest";
import {
  FileRegistry,
  IdAllocator,
  type PendingEntry,
  type Registry,
  type RegistryEntry,
  type Reservation,
  SlotAllocator,
} from "../../src/index.js";

describe("ids types", () => {
  it("in-process reservations are synchronous and disposable", () => {
    expectTypeOf(new IdAllocator().reserve("x")).toEqualTypeOf<Reservation<string>>();
    expectTypeOf(new SlotAllocator({ min: 0, max: 1 }).reserve()).toEqualTypeOf<
      Reservation<number>
    >();
    expectTypeOf<Reservation<string>>().toHaveProperty(Symbol.dispose);
  });

  it("FileRegistry is a Registry whose entries carry the data type", () => {
    const registry = new FileRegistry<{ port: number }>("x.json");
    expectTypeOf(registry).toMatchTypeOf<Registry<{ port: number }>>();
    expectTypeOf(registry.reserve()).toEqualTypeOf<Promise<PendingEntry<{ port: number }>>>();
    expectTypeOf<PendingEntry>().toHaveProperty(Symbol.asyncDispose);
    expectTypeOf<PendingEntry<{ port: number }>["commit"]>()
      .parameter(0)
      .toEqualTypeOf<{ port: number } | undefined>();
    expectTypeOf<RegistryEntry<{ port: number }>["data"]>().toEqualTypeOf<{
      port: number;
    } | null>();
    expectTypeOf<RegistryEntry["status"]>().toEqualTypeOf<"pending" | "active">();
    // @ts-expect-error data must match D
    registry.reserve({ data: { port: "7000" } });
  });
});
