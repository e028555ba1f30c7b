// wrangler's [build] step (wrangler.toml): copies the Swagger UI files the /docs page needs from node_modules
// into public/assets/vendor/ (and docs/*.md into public/guides/) so the Worker serves them as static assets (no CDN, works offline). Plain .mjs so
// wrangler can run it with `node` before anything is compiled. Also called by the browser tests' setup.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// @hono/swagger-ui builds the URLs as `${baseUrl}/swagger-ui-dist/<file>` (edge/routes/pages/docs.ts).
const OUT = join(ROOT, "public", "assets", "vendor", "swagger-ui-dist");
const DOCS = join(ROOT, "docs");
const GUIDES_OUT = join(ROOT, "public", "guides");
/** The two files the page loads; the rest of swagger-ui-dist (source maps, ES bundles) is not served. */
const FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"];

/** Unchanged files are left alone, so `wrangler dev` sees no change and does not reload. */
function copyIfChanged(from, to) {
  if (existsSync(to) && readFileSync(to).equals(readFileSync(from))) return;
  copyFileSync(from, to);
}

export function vendorAssets() {
  const require = createRequire(join(ROOT, "package.json"));
  const dist = dirname(require.resolve("swagger-ui-dist/package.json"));
  mkdirSync(OUT, { recursive: true });
  for (const name of FILES) {
    const from = join(dist, name);
    const to = join(OUT, name);
    copyIfChanged(from, to);
  }
  // The docs/ pages, served as text under /guides/ so /docs can link them offline.
  mkdirSync(GUIDES_OUT, { recursive: true });
  for (const name of readdirSync(DOCS)) {
    if (name.endsWith(".md")) copyIfChanged(join(DOCS, name), join(GUIDES_OUT, name));
  }
  const { version } = JSON.parse(readFileSync(join(dist, "package.json"), "utf8"));
  return { dir: OUT, version };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { dir, version } = vendorAssets();
  console.log(`swagger-ui-dist ${version} -> ${dir.slice(ROOT.length + 1)}`);
}
