// The atomic-persistence API, listed explicitly. No logic lives here.
export {
  AtomicWriteError,
  type AtomicWriteErrorCode,
  StateFileCorruptError,
  StateFileInvalidError,
} from "./errors.js";
export { StateFile, type StateFileOptions, type UpdateOptions } from "./state-file.js";
export { type SweepOptions, sweepTempFiles } from "./temp-files.js";
export { type WriteFileAtomicOptions, writeFileAtomic } from "./write-file-atomic.js";
