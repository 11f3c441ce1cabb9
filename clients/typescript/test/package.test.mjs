// The package as users get it: `npm pack` of the built SDK installed into
// a fresh project (offline: the SDK has no runtime dependencies), then
// loaded with `require` and with `import`, types included.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";

import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

test("the packed tarball installs cleanly and loads with require, with import and through a bundler", async () => {
  const dir = mkdtempSync(join(tmpdir(), "parley-client-pack-"));
  try {
    // --ignore-scripts: the suite runs after `npm run build`.
    const packed = JSON.parse(run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], root));
    const files = packed[0].files.map((file) => file.path);
    for (const file of ["dist/index.js", "dist/index.d.ts", "dist/cjs/index.js", "dist/cjs/index.d.ts", "dist/cjs/package.json", "README.md"]) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }
    assert.ok(!files.some((file) => file.startsWith("src/") || file.startsWith("test/")), "no sources or tests in the tarball");

    const app = join(dir, "app");
    run("mkdir", ["-p", app], dir);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
    run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(dir, packed[0].filename)], app);

    const required = run("node", ["-e", "const p = require('@parley/client'); console.log(typeof p.Parley, typeof p.ParleyError, p.ClientErrorCode.Timeout)"], app);
    assert.match(required, /^function function \d+\n$/);
    const imported = run(
      "node",
      ["--input-type=module", "-e", "import { Parley, ParleyError } from '@parley/client'; console.log(typeof Parley, typeof ParleyError)"],
      app,
    );
    assert.equal(imported, "function function\n");

    // A bundler for the browser takes the ES module build (tree-shaken:
    // the entry uses one export) and needs nothing from Node.
    writeFileSync(join(app, "entry.mjs"), 'import { Parley } from "@parley/client";\nwindow.made = new Parley("ws://127.0.0.1:1");\n');
    const bundled = await build({
      entryPoints: [join(app, "entry.mjs")],
      absWorkingDir: app,
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      logLevel: "silent",
      metafile: true,
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    assert.ok(inputs.some((input) => input.includes("node_modules/@parley/client/dist/") && !input.includes("/cjs/")), inputs.join(", "));
    assert.match(bundled.outputFiles[0].text, /class Parley\b|Parley = class\b/);

    // The installed manifest sends each loader to its own build.
    const manifest = JSON.parse(readFileSync(join(app, "node_modules/@parley/client/package.json"), "utf8"));
    assert.equal(manifest.exports["."].require.default, "./dist/cjs/index.js");
    assert.equal(manifest.exports["."].import.default, "./dist/index.js");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
