/**
 * Platforms without a start-time source interlock knows (Windows, the BSDs, others).
 * There is no honest answer here, so there is none: callers get `undefined` and must
 * treat the PID alone as proof of nothing more than "some process has this id".
 */
export function startTimeUnsupported(_pid: number): number | undefined {
  return undefined;
}
