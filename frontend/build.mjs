// Builds the browser bundles into src/sentiero/web/static/dist/ with content-hashed names and a
// manifest.json mapping logical names to files, then prints a bundle-budget report.
//
//   node build.mjs            (npm run build)

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, "..", "src", "sentiero", "web", "static", "dist");
const TARGET = "es2018";

const entries = {
  recorder: join(here, "src", "recorder", "index.js"),
  dashboard: join(here, "src", "dashboard", "index.js"),
};
// web-vitals stays out of the recorder bundle: a separate hashed file that the recorder fetches
// only when captureWebVitals is on. It is built first so the recorder can embed its name.
const vitalsEntry = join(here, "src", "recorder", "vitals-entry.js");
const REQUIRED = ["recorder", "dashboard", "dashboard.css", "vitals"];

function ensureDashboardCss() {
  // dashboard.css is owned by the dashboard styles; an empty file keeps the import resolvable.
  const path = join(here, "src", "dashboard", "dashboard.css");
  if (!existsSync(path)) writeFileSync(path, "");
}

function cleanOutdir() {
  mkdirSync(outdir, { recursive: true });
  for (const name of readdirSync(outdir)) rmSync(join(outdir, name), { recursive: true, force: true });
}

function sizes(bytes) {
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

function kb(n) {
  return (n / 1024).toFixed(1).padStart(7) + " KiB";
}

const COMMON = {
  outdir,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  bundle: true,
  format: "iife",
  minify: true,
  target: TARGET,
  platform: "browser",
  metafile: true,
  legalComments: "eof",
  logLevel: "warning",
};

async function buildVitals() {
  const result = await esbuild.build({ ...COMMON, entryPoints: { vitals: vitalsEntry } });
  const out = Object.keys(result.metafile.outputs).find((p) => p.endsWith(".js"));
  if (!out) throw new Error("build produced no output for vitals");
  return basename(out);
}

async function buildBundles(vitalsFile) {
  const result = await esbuild.build({
    ...COMMON,
    entryPoints: entries,
    define: { __SENTIERO_VITALS_FILE__: JSON.stringify(vitalsFile) },
  });
  const manifest = { vitals: vitalsFile };
  for (const [outPath, output] of Object.entries(result.metafile.outputs)) {
    if (!output.entryPoint) continue;
    const entryAbs = resolve(output.entryPoint);
    const name = Object.keys(entries).find((key) => resolve(entries[key]) === entryAbs);
    if (!name) continue;
    manifest[name] = basename(outPath);
    if (output.cssBundle) manifest[name + ".css"] = basename(output.cssBundle);
  }
  for (const key of REQUIRED) {
    if (!manifest[key]) throw new Error("build produced no output for " + key);
  }
  return manifest;
}

/** A snippet bundled the same way as the recorder, for the budget report. */
async function bundledSize(contents) {
  const result = await esbuild.build({
    stdin: {
      contents,
      resolveDir: here,
      loader: "js",
    },
    bundle: true,
    format: "iife",
    minify: true,
    target: TARGET,
    platform: "browser",
    write: false,
    legalComments: "eof",
    logLevel: "warning",
  });
  return sizes(Buffer.from(result.outputFiles[0].contents));
}

/** rrweb's `record` alone: the floor our recorder is measured against. */
function rrwebRecordBaseline() {
  return bundledSize('import { record } from "rrweb"; window.__rrwebRecord = record;');
}

async function main() {
  ensureDashboardCss();
  cleanOutdir();
  const vitalsFile = await buildVitals();
  const manifest = await buildBundles(vitalsFile);
  // Sorted keys: a stable file for diffs and for the server's manifest reader.
  const ordered = Object.fromEntries(Object.keys(manifest).sort().map((k) => [k, manifest[k]]));
  writeFileSync(join(outdir, "manifest.json"), JSON.stringify(ordered, null, 2) + "\n");

  console.log("Built into " + relative(process.cwd(), outdir) + "/");
  console.log("  " + "logical name".padEnd(16) + "file".padEnd(30) + "     raw" + "        gzip");
  for (const [name, file] of Object.entries(ordered)) {
    const s = sizes(readFileSync(join(outdir, file)));
    console.log("  " + name.padEnd(16) + file.padEnd(30) + kb(s.raw) + " " + kb(s.gzip));
  }
  const recorder = sizes(readFileSync(join(outdir, ordered.recorder)));
  const baseline = await rrwebRecordBaseline();
  console.log("Bundle budget (gzip): recorder " + kb(recorder.gzip).trim() +
    " vs rrweb record alone " + kb(baseline.gzip).trim() +
    " (ours adds " + kb(recorder.gzip - baseline.gzip).trim() + ")");
  const vitals = sizes(readFileSync(join(outdir, ordered.vitals)));
  const inlined = await bundledSize(
    'import { record } from "rrweb"; import { onLCP, onCLS, onINP } from "web-vitals";' +
    " window.__x = [record, onLCP, onCLS, onINP];",
  );
  console.log("Web vitals: separate file " + kb(vitals.gzip).trim() +
    " gzip, fetched only with captureWebVitals (bundled in, it would add " +
    kb(inlined.gzip - baseline.gzip).trim() + " to every page)");
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
