// What a JSON state file can hold without changing it: a value that comes back from
// JSON.parse(JSON.stringify(value)) as it went in.

/** Deeper than any real state; keeps serialization far from the stack limit. */
export const MAX_DEPTH = 1_000;

const PLAIN = Object.prototype;

/**
 * Why `value` would not survive a JSON round trip unchanged, naming where the bad value
 * is (`state.sessions["a"].when`) and what to store instead; `undefined` when it would.
 * Iterative, so a deep or circular value gets an answer instead of a stack overflow.
 *
 * Allowed: `null`, booleans, strings, finite numbers, arrays and plain objects of
 * those. An object property whose value is `undefined` is allowed and dropped (JSON has
 * no `undefined`; reading the property back gives `undefined` either way).
 */
export function whyNotJson(value: unknown): string | undefined {
  // Depth-first with an explicit stack; `parents` holds the objects on the current path.
  const stack: { value: unknown; path: string; depth: number; exit?: object }[] = [
    { value, path: "state", depth: 0 },
  ];
  const parents = new Set<object>();
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.exit !== undefined) {
      parents.delete(item.exit);
      continue;
    }
    const { value: v, path, depth } = item;
    const problem = scalarProblem(v);
    if (problem !== undefined) return `${path} is ${problem}`;
    if (v === null || typeof v !== "object") continue;
    if (parents.has(v))
      return `${path} refers back to one of its own parents (a circular structure), which JSON cannot store`;
    if (depth >= MAX_DEPTH)
      return `${path} is nested deeper than ${MAX_DEPTH} levels; flatten the state`;
    const kind = objectProblem(v);
    if (kind !== undefined) return `${path} is ${kind}`;
    parents.add(v);
    stack.push({ value: undefined, path, depth, exit: v });
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const el = v[i];
        if (el === undefined) {
          return `${path}[${i}] is undefined (or a hole), which JSON stores as null; use null`;
        }
        stack.push({ value: el, path: `${path}[${i}]`, depth: depth + 1 });
      }
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const el = (v as Record<string, unknown>)[k];
        if (el === undefined) continue;
        stack.push({ value: el, path: `${path}${member(k)}`, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

function member(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function scalarProblem(v: unknown): string | undefined {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v)
        ? undefined
        : `${v}, which JSON stores as null; store a finite number or null`;
    case "bigint":
      return `a bigint (${v}n), which JSON cannot store; store it as a string`;
    case "function":
      return "a function, which JSON drops";
    case "symbol":
      return "a symbol, which JSON drops";
    case "undefined":
      return "undefined, which JSON cannot store";
    default:
      return undefined;
  }
}

function objectProblem(v: object): string | undefined {
  if (Array.isArray(v)) {
    return Object.getPrototypeOf(v) === Array.prototype ? undefined : "an array subclass";
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === PLAIN || proto === null) {
    return Object.getOwnPropertySymbols(v).some(
      (s) => Object.getOwnPropertyDescriptor(v, s)?.enumerable,
    )
      ? "an object with symbol keys, which JSON drops; use string keys"
      : undefined;
  }
  if (v instanceof Map)
    return "a Map, which JSON stores as {} (its entries lost); use a plain object, e.g. Object.fromEntries(map)";
  if (v instanceof Set)
    return "a Set, which JSON stores as {} (its values lost); use an array, e.g. [...set]";
  if (v instanceof Date)
    return "a Date, which JSON stores as a string and reads back as a string; store date.toISOString() or date.getTime()";
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer)
    return "binary data, which JSON does not store as bytes; encode it, e.g. as base64";
  const name = (proto as { constructor?: { name?: string } } | null)?.constructor?.name;
  return `${name ? `a ${name} instance` : "an object with a custom prototype"}, which JSON reads back as a plain object (methods and class lost); store plain data`;
}
