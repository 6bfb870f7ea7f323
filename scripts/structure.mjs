#!/usr/bin/env node
// Checks the layering and size rules of issue 13 on every crate's src/:
//   - no file over MAX_FILE lines,
//   - no function over MAX_FN lines (signature to closing brace),
//   - no import circle of more than MAX_CYCLE files: the files of a crate,
//     linked by the `crate::` and `super::` paths they name, are split into
//     strongly connected components, and none may hold more than MAX_CYCLE.
// A path is resolved to the deepest file that declares it as a module, so a
// type re-exported by a `mod.rs` counts as a dependency on that `mod.rs`.
//
// Tests, benchmarks and examples are held to the size rules too.
//
//   node scripts/structure.mjs            report, exit 1 on a violation
//   node scripts/structure.mjs --list     also list the largest files and functions
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { join, relative, dirname, basename } from "node:path";

const MAX_FILE = 400;
const MAX_FN = 80;
const MAX_CYCLE = 3;
const root = join(dirname(new URL(import.meta.url).pathname), "..");
const crates = ["core", "adapters", "adapter-redis", "adapter-nats", "adapter-amqp", "loadtest", "benches", "fuzz", "."];
const list = process.argv.includes("--list");

function rustFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...rustFiles(path));
    else if (name.endsWith(".rs")) out.push(path);
  }
  return out;
}

// Blanks comments, string and char literals so braces and paths inside them
// are not counted; keeps line breaks so line numbers stay right.
function strip(src) {
  let out = "";
  let i = 0;
  const n = src.length;
  const blank = (s) => s.replace(/[^\n]/g, " ");
  while (i < n) {
    const c = src[i];
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      out += blank(src.slice(i, stop));
      i = stop;
    } else if (c === "/" && next === "*") {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (src[j] === "/" && src[j + 1] === "*") (depth++, (j += 2));
        else if (src[j] === "*" && src[j + 1] === "/") (depth--, (j += 2));
        else j++;
      }
      out += blank(src.slice(i, j));
      i = j;
    } else if (c === "r" && /^r#*"/.test(src.slice(i, i + 10)) && !/[A-Za-z0-9_]/.test(src[i - 1] ?? "")) {
      const hashes = src.slice(i + 1).match(/^#*/)[0];
      const close = '"' + hashes;
      const start = i + 2 + hashes.length;
      const end = src.indexOf(close, start);
      const stop = end < 0 ? n : end + close.length;
      out += blank(src.slice(i, stop));
      i = stop;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
      out += blank(src.slice(i, j + 1));
      i = j + 1;
    } else if (c === "'") {
      // A char literal ('a', '\n', '\u{1F600}'), not a lifetime ('a).
      const m = src.slice(i).match(/^'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'/);
      if (m) {
        out += blank(m[0]);
        i += m[0].length;
      } else {
        out += c;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function functions(code) {
  const lines = code.split("\n");
  const found = [];
  const fnRe = /^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)/;
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(fnRe);
    if (!m) continue;
    // Find the body's opening brace (or a `;` for a declaration without body).
    let depth = 0;
    let opened = false;
    let end = -1;
    outer: for (let j = i; j < lines.length; j++) {
      for (const ch of lines[j]) {
        if (!opened && ch === ";" && depth === 0) break outer;
        if (ch === "{") (depth++, (opened = true));
        else if (ch === "}") {
          depth--;
          if (opened && depth === 0) {
            end = j;
            break outer;
          }
        }
      }
    }
    if (end >= 0) found.push({ name: m[1], line: i + 1, length: end - i + 1 });
  }
  return found;
}

// Expands a use tree (`a::{b, c::{d, e as f}}`) into its paths and the name
// each brings into scope.
function expandUse(tree) {
  const out = [];
  const walk = (prefix, text) => {
    const brace = text.indexOf("{");
    if (brace < 0) {
      const [path, alias] = text.split(/\s+as\s+/);
      const segs = [...prefix, ...path.split("::").map((p) => p.trim()).filter(Boolean)];
      const last = segs[segs.length - 1];
      if (last === "self") segs.pop();
      if (last !== "*" && segs.length) out.push({ path: segs, name: (alias ?? segs[segs.length - 1]).trim() });
      return;
    }
    const head = text.slice(0, brace).replace(/::\s*$/, "");
    const inner = text.slice(brace + 1, text.lastIndexOf("}"));
    const parts = [];
    let depth = 0;
    let start = 0;
    for (let i = 0; i < inner.length; i++) {
      if (inner[i] === "{") depth++;
      else if (inner[i] === "}") depth--;
      else if (inner[i] === "," && depth === 0) (parts.push(inner.slice(start, i)), (start = i + 1));
    }
    parts.push(inner.slice(start));
    const next = [...prefix, ...head.split("::").map((p) => p.trim()).filter(Boolean)];
    for (const p of parts) if (p.trim()) walk(next, p.trim());
  };
  walk([], tree);
  return out;
}

// A use path made absolute within its crate, or null for an external crate.
function absolutePath(path, here, isModRoot) {
  const self = isModRoot ? here : here.slice(0, -1);
  let segs;
  if (path[0] === "crate") segs = path.slice(1);
  else if (path[0] === "self") segs = [...self, ...path.slice(1)];
  else if (path[0] === "super") segs = [...self.slice(0, -1), ...path.slice(1)];
  else segs = [...(isModRoot ? here : here), ...path];
  while (segs.includes("super")) {
    const at = segs.indexOf("super");
    segs = [...segs.slice(0, Math.max(0, at - 1)), ...segs.slice(at + 1)];
  }
  return segs;
}

// Module path (["adapter", "local"]) of a file under src/.
function modulePath(src, file) {
  const rel = relative(src, file).replace(/\.rs$/, "").split("/");
  const last = rel[rel.length - 1];
  if (last === "mod" || ((last === "lib" || last === "main") && rel.length === 1)) rel.pop();
  return rel;
}

const violations = [];
const sizes = [];
const fnSizes = [];
let worstCycle = 0;

for (const crate of crates) {
  const src = join(root, crate, "src");
  if (!existsSync(src)) continue;
  const files = rustFiles(src).filter((f) => !(crate === "." && f.includes("/bin/")));
  const byModule = new Map();
  for (const f of files) byModule.set(modulePath(src, f).join("::"), f);
  // `pub use x::Name` in a module: a path naming `module::Name` is a
  // dependency on the file that defines Name, not on the re-exporting one.
  const reexports = new Map();
  for (const file of files) {
    const here = modulePath(src, file);
    const isModRoot = /(^|\/)(mod|lib|main)\.rs$/.test(file);
    const code = strip(readFileSync(file, "utf8"));
    for (const [, tree] of code.matchAll(/\bpub(?:\([^)]*\))?\s+use\s+([^;]+);/g)) {
      for (const { path, name } of expandUse(tree.replace(/\s+/g, " ").trim())) {
        const absolute = absolutePath(path, here, isModRoot);
        if (absolute) reexports.set([...here, name].join("::"), absolute);
      }
    }
  }
  const graph = new Map();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const code = strip(text);
    const lineCount = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    const rel = relative(root, file);
    sizes.push({ rel, lineCount });
    if (lineCount > MAX_FILE) violations.push(`${rel}: ${lineCount} lines (max ${MAX_FILE})`);
    for (const f of functions(code)) {
      fnSizes.push({ where: `${rel}:${f.line} ${f.name}`, length: f.length });
      if (f.length > MAX_FN) violations.push(`${rel}:${f.line}: fn ${f.name} is ${f.length} lines (max ${MAX_FN})`);
    }
    const here = modulePath(src, file);
    const isModRoot = /(^|\/)(mod|lib|main)\.rs$/.test(file);
    const deps = new Set();
    const addPath = (segments, hops = 0) => {
      for (let k = segments.length; k > 0; k--) {
        const key = segments.slice(0, k).join("::");
        const target = byModule.get(key);
        if (target) {
          const through = k < segments.length && hops < 8 && reexports.get(segments.slice(0, k + 1).join("::"));
          if (through) return addPath([...through, ...segments.slice(k + 1)], hops + 1);
          if (target !== file) deps.add(target);
          return;
        }
      }
    };
    // `crate::a::b::{c, d::e}` and `super::x`: the brace groups are expanded
    // one level, which is what the code base writes.
    const pathRe = /\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\})?/g;
    // Inside an inline module (`mod tests { use super::*; }`), `super` is
    // this file's own module.
    const inline = code.search(/^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+[A-Za-z_][A-Za-z0-9_]*\s*\{/m);
    for (const m of code.matchAll(pathRe)) {
      // `pub(super)`, `pub(crate)`, `pub(in crate::x)` are visibilities.
      if (/pub\(\s*(in\s+)?$/.test(code.slice(Math.max(0, m.index - 8), m.index))) continue;
      let base;
      if (m[1] === "crate") base = [];
      else if (m[1] === "super" && inline >= 0 && m.index > inline) base = isModRoot ? [...here, "_"] : here;
      else if (m[1] === "super") base = here.slice(0, -1);
      else base = isModRoot ? here : here.slice(0, -1);
      if (m[1] === "self" && !m[2] && !m[3]) continue;
      let segs = [...base, ...m[2].split("::").filter(Boolean)];
      // `super::super::x`
      while (segs.includes("super")) {
        const at = segs.indexOf("super");
        segs = [...segs.slice(0, Math.max(0, at - 1)), ...segs.slice(at + 1)];
      }
      if (m[4] !== undefined) {
        for (const part of m[4].split(/,(?![^{]*\})/)) {
          const inner = part.trim().split(/::|\s+as\s+/).filter((s) => /^[A-Za-z_]/.test(s) && s !== "self");
          addPath([...segs, ...inner.filter((s) => !s.startsWith("{"))]);
        }
      } else addPath(segs);
    }
    // Paths into a child module written without a prefix (`pub use ack::Ack`,
    // `emit::encode(..)`), for the modules this file declares with `mod x;`.
    const selfPath = isModRoot ? here : here;
    for (const [, child] of code.matchAll(/^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;/gm)) {
      const childRe = new RegExp(`(?<![A-Za-z0-9_:])${child}((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\\{([^{}]*)\\})?`, "g");
      for (const m of code.matchAll(childRe)) {
        if (!m[1] && !m[2]) continue;
        const segs = [...selfPath, child, ...m[1].split("::").filter(Boolean)];
        if (m[3] !== undefined) {
          for (const part of m[3].split(",")) {
            const inner = part.trim().split(/::|\s+as\s+/).filter((s) => /^[A-Za-z_]/.test(s) && s !== "self");
            addPath([...segs, ...inner]);
          }
        } else addPath(segs);
      }
    }
    graph.set(file, deps);
    if (process.env.EDGES === crate) for (const d of deps) console.log(`edge ${relative(src, file)} -> ${relative(src, d)}`);
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const comps = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      comps.push(comp);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  if (process.env.SCC === crate) for (const comp of comps) if (comp.length > 1) console.log("scc", comp.map((f) => relative(src, f)).sort().join(" "));
  for (const comp of comps) {
    worstCycle = Math.max(worstCycle, comp.length);
    if (comp.length > MAX_CYCLE) {
      const names = comp.map((f) => relative(join(root, crate), f)).sort();
      violations.push(`${crate}: import circle of ${comp.length} files (max ${MAX_CYCLE}): ${names.join(", ")}`);
    }
  }
}

// Tests, benchmarks and examples: the size rules only (each file is its own
// crate, so there is no circle to find).
for (const crate of crates) {
  for (const dir of ["tests", "benches", "examples"]) {
    const path = join(root, crate, dir);
    if (!existsSync(path)) continue;
    for (const file of rustFiles(path)) {
      const text = readFileSync(file, "utf8");
      const lineCount = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
      const rel = relative(root, file);
      sizes.push({ rel, lineCount });
      if (lineCount > MAX_FILE) violations.push(`${rel}: ${lineCount} lines (max ${MAX_FILE})`);
      for (const f of functions(strip(text))) {
        fnSizes.push({ where: `${rel}:${f.line} ${f.name}`, length: f.length });
        if (f.length > MAX_FN) violations.push(`${rel}:${f.line}: fn ${f.name} is ${f.length} lines (max ${MAX_FN})`);
      }
    }
  }
}

if (list) {
  sizes.sort((a, b) => b.lineCount - a.lineCount);
  fnSizes.sort((a, b) => b.length - a.length);
  console.log("largest files:");
  for (const s of sizes.slice(0, 10)) console.log(`  ${s.lineCount}  ${s.rel}`);
  console.log("longest functions:");
  for (const f of fnSizes.slice(0, 10)) console.log(`  ${f.length}  ${f.where}`);
}
const files = sizes.length;
const largest = Math.max(...sizes.map((s) => s.lineCount));
const longest = Math.max(...fnSizes.map((f) => f.length));
console.log(
  `structure: ${files} files, largest ${largest} lines (max ${MAX_FILE}), longest function ${longest} lines (max ${MAX_FN}), largest import circle ${worstCycle} files (max ${MAX_CYCLE})`,
);
if (violations.length) {
  console.log(`${violations.length} violation(s):`);
  for (const v of violations) console.log(`  ${v}`);
  process.exit(1);
}
