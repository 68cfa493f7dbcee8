// fs-ext is an optional dependency for users (an install without a C++ toolchain still
// succeeds, and file locks then say why they cannot work). For this test suite it is
// required: without it, dozens of tests would fail with the same EFLOCKUNAVAILABLE. Stop
// at once with the reason instead.
import { createRequire } from "node:module";

export default function requireFsExt(): void {
  try {
    createRequire(import.meta.url)("fs-ext");
  } catch (err) {
    throw new Error(
      `The test suite needs fs-ext, which did not build during \`npm ci\` (${(err as Error).message.split("\n")[0]}). ` +
        "Run `npm rebuild fs-ext --foreground-scripts` to see why. node-gyp needs a C++ toolchain " +
        "(python3, make, g++) and Node.js headers; where the headers are installed locally rather " +
        "than downloaded, point npm at them, e.g. `npm_config_nodedir=/usr npm ci`.",
    );
  }
}
