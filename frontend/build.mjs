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

async function buildBundles() {
  const result = await esbuild.build({
    entryPoints: entries,
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
  });
  const manifest = {};
  for (const [outPath, output] of Object.entries(result.metafile.outputs)) {
    if (!output.entryPoint) continue;
    const entryAbs = resolve(output.entryPoint);
    const name = Object.keys(entries).find((key) => resolve(entries[key]) === entryAbs);
    if (!name) continue;
    manifest[name] = basename(outPath);
    if (output.cssBundle) manifest[name + ".css"] = basename(output.cssBundle);
  }
  for (const key of ["recorder", "dashboard", "dashboard.css"]) {
    if (!manifest[key]) throw new Error("build produced no output for " + key);
  }
  return manifest;
}

/** rrweb's `record` alone, bundled the same way: the floor our recorder is measured against. */
async function rrwebRecordBaseline() {
  const result = await esbuild.build({
    stdin: {
      contents: 'import { record } from "rrweb"; window.__rrwebRecord = record;',
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

async function main() {
  ensureDashboardCss();
  cleanOutdir();
  const manifest = await buildBundles();
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
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
