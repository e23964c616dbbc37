// Builds the page of `dioramic serve` into src/dioramic/web/static/ (committed, so pip users need no npm).
//   npm install && npm run build
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "dioramic", "web", "static");
mkdirSync(out, { recursive: true });

// app.js is the page; splats.js (Spark, the splat renderer) is loaded by it only when a job wrote
// splats, and shares three.js with it through a common chunk (code splitting)
rmSync(join(out, "chunks"), { recursive: true, force: true });
await build({
  entryPoints: { app: join(here, "src", "main.js"), splats: join(here, "src", "splats.js") },
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2020"],
  minify: true,
  legalComments: "eof",
  outdir: out,
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});
for (const name of ["index.html", "style.css", "favicon.svg"]) {
  copyFileSync(join(here, "src", name), join(out, name));
}
console.log(`built ${out}`);
