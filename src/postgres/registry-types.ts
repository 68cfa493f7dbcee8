// The PostgreSQL registry implements the registry contract of src/ids/: the same types,
// and the very same error classes, so `instanceof IdTakenError` holds whichever backend
// threw it.
export {
  IdsExhaustedError,
  IdTakenError,
  ReservationLostError,
  type TakenStatus,
} from "../ids/errors.js";
export type {
  PendingEntry,
  ReclaimOptions,
  Registry,
  RegistryEntry,
  RegistryOwner,
  ReserveOptions,
} from "../ids/types.js";
