// Builds the browser bundles into src/sentiero/web/static/dist/ with content-hashed names and a
// manifest.json mapping logical names to files, then prints a bundle-budget report.
//
//   node build.mjs            (npm run build)

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, "..", "src", "sentiero", "web", "static", "dist");
const TARGET = "es2020";

// The page includes only the loader (`recorder`); it loads `recorder.core` (rrweb's record and
// our transport) when the page is idle and the visitor is recorded, and `recorder.features`
// when a capture feature is on. web-vitals (`vitals`) is fetched by the features chunk only with
// captureWebVitals. Each lazy file is built first so the file that loads it can embed its name.
const src = (...parts) => join(here, "src", ...parts);
const entries = {
  recorder: src("recorder", "loader.js"),
  dashboard: src("dashboard", "index.js"),
};
const REQUIRED = [
  "recorder", "recorder.core", "recorder.features", "vitals", "dashboard", "dashboard.css",
  "replay.worker",
];
// Modules the loader already holds: the lazy chunks take them from it (window global set by
// loader.js from shared.js) instead of carrying a second copy, and it shares only the names the
// chunks import.
const SHARED_MODULES = [
  "chunks.js", "config.js", "cookies.js", "gate.js", "ids.js", "opt_out.js", "session.js",
  "storage.js",
];

/** The shared module (its file name) an import of a chunk resolves to, or null. */
function sharedModule(args) {
  if (args.kind === "entry-point" || !args.path.startsWith(".")) return null;
  const path = resolve(args.resolveDir, args.path);
  const file = basename(path);
  return dirname(path) === src("recorder") && SHARED_MODULES.includes(file) ? file : null;
}

/**
 * `{file: Set(names)}` a chunk imports from the shared modules: the chunk bundled as an ES
 * module with them external, where esbuild's import statements keep only what it uses.
 */
async function sharedNames(entry) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    minifySyntax: true,
    target: TARGET,
    platform: "browser",
    logLevel: "warning",
    plugins: [{
      name: "shared-external",
      setup(build) {
        build.onResolve({ filter: /\.js$/ }, (args) => {
          const file = sharedModule(args);
          return file ? { path: "shared:" + file, external: true } : undefined;
        });
      },
    }],
  });
  const code = result.outputFiles[0].text;
  const names = {};
  let imports = 0;
  for (const [, list, file] of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*"shared:([^"]+)"/g)) {
    imports++;
    for (const spec of list.split(",")) {
      const name = spec.trim().split(/\s+as\s+/)[0];
      if (name) (names[file] ||= new Set()).add(name);
    }
  }
  if (imports !== code.split('"shared:').length - 1) {
    throw new Error(entry + ": import the shared modules by name only (import { x } from ...)");
  }
  return names;
}

/** Checks that every name is exported by its shared module; returns `names`. */
async function checkedNames(names) {
  for (const [file, set] of Object.entries(names)) {
    const module = await import(pathToFileURL(src("recorder", file)).href);
    for (const name of set) {
      if (!(name in module)) throw new Error("src/recorder/" + file + " exports no " + name);
    }
  }
  return names;
}

/** Every name of `names` (`{file: Set}`) once, with its file; a name two files share throws. */
function flatNames(names) {
  const flat = new Map();
  for (const [file, set] of Object.entries(names)) {
    for (const name of set) {
      if (flat.has(name) && flat.get(name) !== file) {
        throw new Error("shared modules " + flat.get(name) + " and " + file + " both export " + name);
      }
      flat.set(name, file);
    }
  }
  return flat;
}

/** A chunk's shared imports, read from the loader's `window.__sentieroChunks.shared`. */
function sharedFromLoader(names) {
  const flat = flatNames(names);
  return {
    name: "shared-from-loader",
    setup(build) {
      build.onResolve({ filter: /\.js$/ }, (args) =>
        sharedModule(args) ? { path: "shared", namespace: "shared" } : undefined);
      build.onLoad({ filter: /.*/, namespace: "shared" }, () => {
        const lines = ["const m = window.__sentieroChunks.shared;"];
        for (const name of flat.keys()) lines.push("export const " + name + " = m." + name + ";");
        return { contents: lines.join("\n"), loader: "js" };
      });
    },
  };
}

/** The loader's shared.js, holding only `names` (`{file: Set}`, what the chunks import). */
function sharedForChunks(names) {
  const path = src("recorder", "shared.js");
  const flat = flatNames(names);
  return {
    name: "shared-for-chunks",
    setup(build) {
      build.onLoad({ filter: /[\\/]shared\.js$/ }, (args) => {
        if (resolve(args.path) !== path) return undefined;
        const lines = [...flat].map(([name, file]) =>
          "import { " + name + " } from " + JSON.stringify("./" + file) + ";");
        lines.push("export const SHARED = { " + [...flat.keys()].join(", ") + " };");
        return { contents: lines.join("\n"), loader: "js", resolveDir: dirname(path) };
      });
    },
  };
}

// Parts of @rrweb/record a recorder on a real page never runs, cut from the recorder chunk:
// - canvas recording: not part of Sentiero (docs/privacy.md: canvas content is not copied;
//   buildRecordOptions forces recordCanvas off), so rrweb's canvas observers, argument
//   serializer, base64 encoder and inline image-bitmap worker give way to a CanvasManager that
//   records nothing, and the snapshot's canvas branch (`recordCanvas` only) goes too;
// - options that take functions, which a JSON config cannot carry: `hooks` (the wrapper that
//   merges them into every observer callback is a no-op), `plugins`, `packFn` and
//   `errorHandler` (rrweb's callbacks run unwrapped, as they do without one);
// - record.freezePage and record.takeFullSnapshot, which nothing in the chunk calls;
// - the NodeList/DOMTokenList forEach polyfill: every browser of the build target has both;
// - rrdom's BaseRRNode (virtual DOM of the replayer): record only meets real DOM nodes, for
//   which its `instanceof BaseRRNode` checks stay false with an empty class;
// - the deprecated `mirror` export's warning proxy (record uses record.mirror, never this one).
const RRWEB_RECORD = /[\\/]@rrweb[\\/]record[\\/]dist[\\/]record\.js$/;
const RRWEB_CUTS = [
  {
    start: "var chars = ",
    end: "class StylesheetManager {",
    stub: "class CanvasManager {\n  reset() {}\n  freeze() {}\n  unfreeze() {}\n" +
      "  lock() {}\n  unlock() {}\n}\n",
  },
  { start: "class BaseRRNode {", end: "function on(type, fn, target = document) {",
    stub: "class BaseRRNode {}\n" },
  { start: "const DEPARTED_MIRROR_ACCESS_WARNING = ", end: "function throttle(", stub: "" },
  { start: "function is2DCanvasBlank(canvas) {", end: "function getInputType(element) {",
    stub: "" },
  { start: '  if (tagName === "canvas" && recordCanvas) {',
    end: '  if (tagName === "img" && inlineImages) {', stub: "" },
  { start: "function mergeHooks(o, hooks) {", end: "function initObservers(",
    stub: "function mergeHooks() {}\n" },
  { start: "function polyfill(win = window) {", end: "function isSerializedIframe(",
    stub: "function polyfill() {}\n" },
  { start: "let errorHandler;", end: "const mutationBuffers = [];",
    stub: "function registerErrorHandler() {}\nfunction unregisterErrorHandler() {}\n" +
      "const callbackWrapper = (cb) => cb;\n" },
  { start: "  const pluginHandlers = [];", end: "  return callbackWrapper(() => {", stub: "" },
  { start: "    pluginHandlers.forEach((h) => h());\n", end: "  });\n}\nfunction hasNestedCSSRule(",
    stub: "" },
  { start: "  const eventProcessor = (e) => {", end: "  wrappedEmit = (r, isCheckout) => {",
    stub: "  const eventProcessor = (e) => e;\n" },
  { start: "  for (const plugin of plugins || []) {\n    if (plugin.getMirror)",
    end: "  const processedNodeManager = new ProcessedNodeManager();", stub: "" },
  { start: "          plugins: ((_a2 = plugins", end: "        },\n        hooks\n", stub: "" },
  { start: "record.freezePage = () => {", end: "record.mirror = mirror;", stub: "" },
];

// rrweb's enums (TypeScript enums compiled to objects, `EventType.Meta`) read as the numbers
// they are, `4`; an enum never used otherwise (by key, or as an object) then leaves the chunk.
const ENUM_RE =
  /^var (\w+) = \/\* @__PURE__ \*\/ \(\((\w+)\) => \{\n([^]*?)\n {2}return \2;\n\}\)\(\1 \|\| \{\}\);$/gm;
const ENUM_MEMBER_RE = /^ {2}\w+\[\w+\["(\w+)"\] = (\d+)\] = "\1";$/;

function inlineEnums(code, path) {
  const enums = {};
  for (const [, name, , body] of code.matchAll(ENUM_RE)) {
    const members = (enums[name] = {});
    for (const line of body.split("\n")) {
      const m = ENUM_MEMBER_RE.exec(line);
      if (!m) throw new Error("@rrweb/record changed: enum " + name + " line " + line + " in " + path);
      members[m[1]] = m[2];
    }
  }
  if (!enums.EventType || !enums.IncrementalSource) {
    throw new Error("@rrweb/record changed: no EventType / IncrementalSource enum in " + path);
  }
  for (const [name, members] of Object.entries(enums)) {
    code = code.replace(new RegExp("\\b" + name + "\\.(\\w+)\\b", "g"), (ref, key) => {
      if (!(key in members)) throw new Error("@rrweb/record: unknown " + ref + " in " + path);
      return members[key];
    });
  }
  return code;
}

function trimmedRrwebRecord() {
  return {
    name: "trimmed-rrweb-record",
    setup(build) {
      build.onLoad({ filter: RRWEB_RECORD }, (args) => {
        let code = readFileSync(args.path, "utf8");
        for (const cut of RRWEB_CUTS) {
          const start = code.indexOf(cut.start);
          const end = code.indexOf(cut.end, start);
          if (start < 0 || end < 0) {
            throw new Error("@rrweb/record changed: no section " + JSON.stringify(cut.start) +
              " .. " + JSON.stringify(cut.end) + " in " + args.path);
          }
          code = code.slice(0, start) + cut.stub + code.slice(end);
        }
        // Class fields, which rrweb's build lowers to __publicField(this, "name", value) calls,
        // become plain assignments, `(this.name = value)`: the same for classes without
        // accessors or a superclass, as all of record.js's are (checked here). The leading ";"
        // keeps the parenthesis from continuing the statement before it.
        if (/\bextends\b|^\s*(?:get|set) \w+\(/m.test(code)) {
          throw new Error("@rrweb/record changed: a class with accessors or a superclass in " +
            args.path + "; its fields need __publicField");
        }
        code = code.replace(/__publicField\(this, "(\w+)"\);/g, "this.$1 = void 0;")
          .replace(/__publicField\(this, "(\w+)", /g, ";(this.$1 = ");
        code = inlineEnums(code, args.path);
        return { contents: code, loader: "js" };
      });
    },
  };
}

// Every built file also gets these precompressed twins, served by Accept-Encoding.
const TWINS = { ".br": brotli, ".gz": (bytes) => gzipSync(bytes, { level: 9 }) };

function ensureDashboardCss() {
  // dashboard.css is owned by the dashboard styles; an empty file keeps the import resolvable.
  const path = join(here, "src", "dashboard", "dashboard.css");
  if (!existsSync(path)) writeFileSync(path, "");
}

function cleanOutdir() {
  mkdirSync(outdir, { recursive: true });
  for (const name of readdirSync(outdir)) rmSync(join(outdir, name), { recursive: true, force: true });
}

function brotli(bytes) {
  return brotliCompressSync(bytes, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: 11,
      [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
    },
  });
}

function sizes(bytes) {
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, br: brotli(bytes).length };
}

function writeTwins() {
  for (const name of readdirSync(outdir)) {
    if (name === "manifest.json") continue;
    const bytes = readFileSync(join(outdir, name));
    for (const [suffix, compress] of Object.entries(TWINS)) {
      writeFileSync(join(outdir, name + suffix), compress(bytes));
    }
  }
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

// Properties named with a trailing underscore are internal to one module of the recorder chunk
// (the transport's state and helpers): the build shortens their names. None crosses a file
// boundary (the loader is a separate build) or reaches the wire, the DOM or rrweb.
const CORE_OPTIONS = { mangleProps: /_$/ };

/** One lazily loaded IIFE file; returns its file name. */
async function buildOne(name, entry, define = {}, plugins = [], options = {}) {
  const result = await esbuild.build({
    ...COMMON, ...options, entryPoints: { [name]: entry }, define, plugins,
  });
  const out = Object.keys(result.metafile.outputs).find((p) => p.endsWith(".js"));
  if (!out) throw new Error("build produced no output for " + name);
  return basename(out);
}

async function buildLazyChunks() {
  const coreEntry = src("recorder", "core-entry.js");
  const featuresEntry = src("recorder", "features-entry.js");
  const coreNames = await checkedNames(await sharedNames(coreEntry));
  const featuresNames = await checkedNames(await sharedNames(featuresEntry));
  const vitals = await buildOne("vitals", src("recorder", "vitals-entry.js"));
  const features = await buildOne("recorder.features", featuresEntry, {
    __SENTIERO_VITALS_FILE__: JSON.stringify(vitals),
  }, [sharedFromLoader(featuresNames)]);
  const core = await buildOne("recorder.core", coreEntry, {},
    [sharedFromLoader(coreNames), trimmedRrwebRecord()], CORE_OPTIONS);
  // What the loader must share: every name either chunk imports.
  const shared = {};
  for (const names of [coreNames, featuresNames]) {
    for (const [file, set] of Object.entries(names)) {
      for (const name of set) (shared[file] ||= new Set()).add(name);
    }
  }
  // The replay player's events pages are downloaded by this worker (the dashboard embeds its name).
  const worker = await buildOne("replay.worker", src("dashboard", "page_worker.js"));
  return {
    files: { vitals, "recorder.features": features, "recorder.core": core, "replay.worker": worker },
    shared,
  };
}

async function buildBundles(lazy, shared) {
  const result = await esbuild.build({
    ...COMMON,
    entryPoints: entries,
    plugins: [sharedForChunks(shared)],
    define: {
      __SENTIERO_CHUNK_FILES__: JSON.stringify({
        core: lazy["recorder.core"],
        features: lazy["recorder.features"],
      }),
      __SENTIERO_PAGE_WORKER_FILE__: JSON.stringify(lazy["replay.worker"]),
    },
  });
  const manifest = { ...lazy };
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

/** @rrweb/record alone: the floor our recorder is measured against. */
function rrwebRecordBaseline() {
  return bundledSize('import { record } from "@rrweb/record"; window.__rrwebRecord = record;');
}

async function main() {
  ensureDashboardCss();
  cleanOutdir();
  const { files: lazy, shared } = await buildLazyChunks();
  const manifest = await buildBundles(lazy, shared);
  // Sorted keys: a stable file for diffs and for the server's manifest reader.
  const ordered = Object.fromEntries(Object.keys(manifest).sort().map((k) => [k, manifest[k]]));
  writeFileSync(join(outdir, "manifest.json"), JSON.stringify(ordered, null, 2) + "\n");
  writeTwins();

  console.log("Built into " + relative(process.cwd(), outdir) + "/ (each file with .br and .gz twins)");
  console.log("  " + "logical name".padEnd(19) + "file".padEnd(34) + "     raw" + "        gzip" +
    "      brotli");
  const size = {};
  for (const [name, file] of Object.entries(ordered)) {
    const s = (size[name] = sizes(readFileSync(join(outdir, file))));
    console.log("  " + name.padEnd(19) + file.padEnd(34) + kb(s.raw) + " " + kb(s.gzip) + " " +
      kb(s.br));
  }
  const baseline = await rrwebRecordBaseline();
  const total = (names) => names.reduce((n, name) => n + size[name].br, 0);
  const recorded = total(["recorder", "recorder.core"]);
  const everything = total(["recorder", "recorder.core", "recorder.features", "vitals"]);
  console.log("Recorder budget (brotli): loader " + kb(size.recorder.br).trim() +
    " on the page (budget 5 KiB); recorded visitor " + kb(recorded).trim() +
    ", every feature on " + kb(everything).trim() + " (budget 30 KiB); @rrweb/record alone " +
    kb(baseline.br).trim() + "; a visitor who is not recorded loads the loader only");
}
main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
