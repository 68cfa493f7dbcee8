// JSON as a state file writes it, and where a state file's JSON goes wrong.

/**
 * Pretty JSON with object keys sorted at every level and a trailing newline, so that
 * the same state always produces the same bytes and a change shows as a small diff.
 * @internal
 */
export function stableStringify(value: unknown): string {
  const text = JSON.stringify(value, sortKeys, 2);
  if (text === undefined) {
    throw new TypeError(
      `Cannot store ${typeof value} as JSON state; return an object, array or value`,
    );
  }
  return text + "\n";
}

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  // A null-prototype object: a key named "__proto__" stays a key instead of becoming
  // the prototype (and vanishing from the output).
  const sorted: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(source).sort()) sorted[key] = source[key];
  return sorted;
}

/**
 * The 0-based offset of the first syntax error in `text`, or `undefined` if it is valid
 * JSON. V8's `JSON.parse` messages carry a position only for some errors, so the
 * position comes from this scanner, run only after a parse has already failed.
 * @internal
 */
export function jsonErrorPosition(text: string): number | undefined {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) fail();
  };
  const digits = () => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    if (i === start) fail();
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === "u") {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) fail();
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail();
      } else i++;
    }
  };
  const key = () => {
    ws();
    if (text[i] !== '"') fail();
    string();
    ws();
    if (text[i] !== ":") fail();
    i++;
  };
  const scalar = (c: string | undefined) => {
    if (c === '"') string();
    else if (c === "t") literal("true");
    else if (c === "f") literal("false");
    else if (c === "n") literal("null");
    else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      if (c === "-") i++;
      if (text[i] === "0") i++;
      else digits();
      if (text[i] === ".") {
        i++;
        digits();
      }
      if (text[i] === "e" || text[i] === "E") {
        i++;
        if (text[i] === "+" || text[i] === "-") i++;
        digits();
      }
    } else fail();
  };
  // Iterative, with the open containers on a stack: any depth gets its true position
  // (a recursive scanner would have to stop somewhere short of the stack limit).
  const OBJECT = 0;
  const ARRAY = 1;
  const value = (): void => {
    const open: number[] = [];
    let expectValue = true;
    for (;;) {
      if (expectValue) {
        ws();
        const c = text[i];
        if (c === "{" || c === "[") {
          i++;
          ws();
          if (text[i] === (c === "{" ? "}" : "]")) {
            i++;
          } else {
            open.push(c === "{" ? OBJECT : ARRAY);
            if (c === "{") key();
            continue;
          }
        } else {
          scalar(c);
        }
        expectValue = false;
      }
      if (open.length === 0) return;
      ws();
      const top = open[open.length - 1];
      if (text[i] === ",") {
        i++;
        if (top === OBJECT) key();
        expectValue = true;
      } else if (text[i] === (top === OBJECT ? "}" : "]")) {
        i++;
        open.pop();
      } else fail();
    }
  };
  try {
    value();
    ws();
    if (i < n) fail();
    return undefined;
  } catch (pos) {
    if (typeof pos === "number") return Math.min(pos, n);
    throw pos;
  }
}
