// Reserved ids and slots: in-process allocators and a cross-process registry. The front
// of src/ids/: everything public is re-exported from here; the other files are internals.
export {
  IdsExhaustedError,
  IdTakenError,
  RegistryFormatError,
  ReservationLostError,
  type TakenStatus,
} from "./errors.js";
export { FileRegistry, type FileRegistryOptions } from "./file-registry.js";
export { IdAllocator, type IdAllocatorOptions } from "./id-allocator.js";
export type { IdFormat } from "./naming.js";
export type { Reservation } from "./reservation.js";
export { SlotAllocator, type SlotAllocatorOptions } from "./slot-allocator.js";
export type {
  PendingEntry,
  ReclaimOptions,
  Registry,
  RegistryEntry,
  RegistryOwner,
  ReserveOptions,
} from "./types.js";
