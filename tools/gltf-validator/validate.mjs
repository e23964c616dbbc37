// Validate a .glb or .gltf file with the Khronos glTF validator and print its JSON report.
// Usage: node validate.mjs FILE   (exit status 0 even when the file has errors: read the report)
import { readFile } from "node:fs/promises";
import path from "node:path";
import validator from "gltf-validator";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs FILE.glb|FILE.gltf");
  process.exit(2);
}
const data = await readFile(file);
const report = await validator.validateBytes(new Uint8Array(data), {
  uri: path.basename(file),
  maxIssues: 100,
  externalResourceFunction: (uri) =>
    readFile(path.resolve(path.dirname(file), decodeURIComponent(uri))).then((b) => new Uint8Array(b)),
});
console.log(JSON.stringify(report, null, 1));
