import { describe } from "./describe.js";

/**
 * Checks a caller's `holder` label (a plain object of JSON values that every lock kind
 * records next to its own fields) and returns it as JSON text, or `undefined` when none
 * was given. Checked once, when the request is made, so a value JSON cannot represent
 * fails the call synchronously instead of after the lock is taken.
 *
 * @param reserved Keys the lock writes itself; a holder may not redefine them.
 * @param maxChars A label, not storage: longer JSON is a RangeError.
 */
export function holderJson(
  holder: unknown,
  reserved: readonly string[],
  maxChars: number,
): string | undefined {
  if (holder === undefined) return undefined;
  if (typeof holder !== "object" || holder === null || Array.isArray(holder)) {
    throw new TypeError(
      `Expected \`holder\` to be a plain object of JSON values, e.g. \`{ purpose: "deploy" }\`, got ${describe(holder)}`,
    );
  }
  for (const key of reserved) {
    if (Object.hasOwn(holder, key)) {
      throw new TypeError(
        `\`holder.${key}\` is written by interlock itself; use another name for your field`,
      );
    }
  }
  let json: string;
  try {
    json = JSON.stringify(holder);
  } catch (err) {
    throw new TypeError(
      `Expected \`holder\` to be serializable as JSON: ${(err as Error).message}`,
    );
  }
  if (json.length > maxChars) {
    throw new RangeError(
      `\`holder\` serializes to ${json.length} characters; keep it under ${maxChars} (it is a label, not storage)`,
    );
  }
  return json;
}
