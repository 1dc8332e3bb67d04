// Builds dist/ from src/ (after `tsc` wrote the declarations to dist/types):
//   index.mjs, index.cjs       ES module and CommonJS, socket.io-client left as a dependency
//   browser/slychat-client.js  one ES module with socket.io-client inside, for a page that
//                              loads it with <script type="module"> (the demo page does)
//   cjs-types/*.d.cts           the declarations again, for `require` under node16 resolution

import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const common = {
  entryPoints: [join(root, "src", "index.ts")],
  bundle: true,
  target: ["es2020", "node18"],
  sourcemap: true,
  logLevel: "warning",
};

await Promise.all([
  build({ ...common, format: "esm", platform: "neutral", packages: "external",
    outfile: join(dist, "index.mjs") }),
  build({ ...common, format: "cjs", platform: "node", packages: "external",
    outfile: join(dist, "index.cjs") }),
  build({ ...common, format: "esm", platform: "browser", minify: true,
    outfile: join(dist, "browser", "slychat-client.js") }),
]);

const types = join(dist, "types");
const cjsTypes = join(dist, "cjs-types");
rmSync(cjsTypes, { recursive: true, force: true });
for (const file of walk(types)) {
  if (!file.endsWith(".d.ts")) continue;
  const target = join(cjsTypes, relative(types, file)).replace(/\.d\.ts$/, ".d.cts");
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, readFileSync(file, "utf8").replace(/(from\s+["'][^"']+)\.js(["'])/g, "$1.cjs$2"));
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}
