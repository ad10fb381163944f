// Builds the web console: `npm run build` runs this after tsc. esbuild bundles web/src (TypeScript, uPlot, CSS)
// into content-hashed assets, and an index.html that loads them; no inline script or style, nothing from a CDN.
//   usage: node --import tsx web/build.ts [OUT_DIR]     (default: dist/web, where the server looks)
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { CONSOLE_DIR } from "../src/console/static-site.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(ROOT, "web", "src");

function page(assets: { js: string; css: string; icon: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hubmirror</title>
<link rel="icon" type="image/svg+xml" href="assets/${assets.icon}">
<link rel="stylesheet" href="assets/${assets.css}">
<script type="module" src="assets/${assets.js}"></script>
</head>
<body>
<noscript>The hubmirror console needs JavaScript.</noscript>
</body>
</html>
`;
}

/** Builds into `outDir` (emptied first); returns the asset names index.html loads. */
export async function buildConsole(outDir = CONSOLE_DIR): Promise<{ js: string; css: string; icon: string }> {
  await rm(outDir, { recursive: true, force: true });
  const assetsDir = join(outDir, "assets");
  await mkdir(assetsDir, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(SRC, "main.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: ["chrome100", "firefox100", "safari15"],
    outdir: assetsDir,
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    metafile: true,
    logLevel: "warning",
  });
  const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint);
  if (!entry?.[1].cssBundle) throw new Error("esbuild produced no script and stylesheet for web/src/main.ts");
  const icon = await readFile(join(SRC, "favicon.svg"));
  const iconName = `favicon-${createHash("sha256").update(icon).digest("hex").slice(0, 10)}.svg`;
  await writeFile(join(assetsDir, iconName), icon);
  const assets = { js: basename(entry[0]), css: basename(entry[1].cssBundle), icon: iconName };
  await writeFile(join(outDir, "index.html"), page(assets));
  return assets;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = resolve(process.argv[2] ?? CONSOLE_DIR);
  const assets = await buildConsole(out);
  console.log(`web console built into ${out}: ${Object.values(assets).join(", ")}`);
}
