// Bundles the front end into src/mhin_web/static/build/ (run by `make`, keyed on
// package-lock.json and these sources): app.js with Vega, Vega-Lite and Vega-Embed;
// the NHS design system's CSS without its web fonts (they load from assets.nhs.uk,
// and the pages load nothing from another site) and with its images alongside.
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const out = join(here, "..", "src", "mhin_web", "static", "build");
const nhsuk = join(root, "node_modules", "nhsuk-frontend", "dist", "nhsuk");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "images"), { recursive: true });

await build({
  entryPoints: [join(here, "app.js")], bundle: true, minify: true, format: "iife",
  target: ["es2020"], outfile: join(out, "app.js"), legalComments: "linked", logLevel: "warning",
});

const version = JSON.parse(readFileSync(join(root, "node_modules", "nhsuk-frontend", "package.json"))).version;
let css = readFileSync(join(nhsuk, `nhsuk-frontend-${version}.min.css`), "utf8");
css = css.replace(/@font-face\{[^}]*https?:\/\/[^}]*\}/g, "");
css = css.replaceAll("/assets/images/", "images/");
if (/url\(\s*["']?https?:/.test(css)) throw new Error("nhsuk CSS still loads from another site");
writeFileSync(join(out, "nhsuk.css"), css);
cpSync(join(nhsuk, "assets", "images"), join(out, "images"), { recursive: true });
writeFileSync(join(out, ".built"), `nhsuk-frontend ${version}\n`);
