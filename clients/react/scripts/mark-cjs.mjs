// Marks dist/cjs as CommonJS: the package is "type": "module", so without
// this file Node would read dist/cjs/*.js (and TypeScript its .d.ts) as ES
// modules. `require("@parley/client")` resolves here through "exports".
import { mkdirSync, writeFileSync } from "node:fs";

mkdirSync(new URL("../dist/cjs/", import.meta.url), { recursive: true });
writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{ "type": "commonjs" }\n');
