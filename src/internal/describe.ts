/**
 * How a bad argument is named in an error message: the type and, for scalars, the
 * value, so `timeoutMs: "1000"` reads `got the string "1000"`, not `got 1000`.
 */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "string": {
      const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
      return `the string ${JSON.stringify(shown)}`;
    }
    case "number":
      return Number.isNaN(value) ? "NaN" : `the number ${String(value)}`;
    case "bigint":
      return `the bigint ${String(value)}n`;
    case "boolean":
      return String(value);
    case "symbol":
      return `a symbol (${value.description ?? ""})`;
    case "function":
      return `a function${value.name ? ` (${value.name})` : ""}`;
    case "undefined":
      return "undefined";
    default: {
      if (value === null) return "null";
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      const ctor = (value as object).constructor?.name;
      return ctor && ctor !== "Object" ? `a ${ctor}` : "an object";
    }
  }
}
