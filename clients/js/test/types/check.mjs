// The type test: ok.ts (the API as an app uses it) compiles under `tsc --strict`, and
// bad.ts does not, failing on exactly the lines marked `// error`. Runs against the built
// declarations (dist/), the way a user of the package sees them.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tsc = join(here, "..", "..", "node_modules", "typescript", "bin", "tsc");

function compile(name) {
  const done = spawnSync(process.execPath, [tsc, "-p", join(here, `tsconfig.${name}.json`), "--pretty", "false"],
    { encoding: "utf8" });
  return { status: done.status, output: `${done.stdout}${done.stderr}` };
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const ok = compile("ok");
if (ok.status !== 0) fail(`ok.ts must compile:\n${ok.output}`);

const bad = compile("bad");
const expected = readFileSync(join(here, "bad.ts"), "utf8").split("\n")
  .map((line, i) => (!line.trimStart().startsWith("//") && line.includes("// error:") ? i + 1 : null))
  .filter((n) => n !== null);
const failed = [...new Set([...bad.output.matchAll(/bad\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1])))];
if (bad.status === 0) fail("bad.ts compiled: the types let a misuse through");
const missing = expected.filter((n) => !failed.includes(n));
const extra = failed.filter((n) => !expected.includes(n));
if (missing.length || extra.length) {
  fail(`bad.ts: lines expected to fail but compiled: ${missing.join(", ") || "none"}; ` +
    `lines failing unexpectedly: ${extra.join(", ") || "none"}\n${bad.output}`);
}
process.stdout.write(`ok.ts compiles; bad.ts fails on its ${expected.length} marked lines\n`);
