// Module resolve hook registered by interlock-from-src.mjs.
const index = new URL("../../src/index.ts", import.meta.url).href;

export async function resolve(specifier, context, next) {
  // Through the next resolver (tsx), which marks a .ts file for its loader.
  if (specifier === "interlock") return next(index, context);
  return next(specifier, context);
}
