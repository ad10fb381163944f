import { readdir, readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { RegistryError } from "../errors/oci-errors.js";
import type { Handler } from "../http/context.js";

/** Where `npm run build` puts the console: the package's dist/web, from src/console (tsx) as from dist/console. */
export const CONSOLE_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url));

/**
 * Sent with every console response. The bundle has no inline script or style and loads nothing from elsewhere,
 * so `'self'` is all it needs; framing is refused (clickjacking), and types are never sniffed.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

/** What the build names its assets: a flat name with no path parts (and so no `..`). */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

interface SiteFile {
  type: string;
  cacheControl: string;
  body: Buffer;
  /** The body gzipped, when that is smaller. */
  gzip: Buffer | undefined;
}

function siteFile(body: Buffer, type: string, cacheControl: string): SiteFile {
  const gz = gzipSync(body);
  return { type, cacheControl, body, gzip: gz.length < body.length ? gz : undefined };
}

/**
 * The files of a built console, by URL path: index.html at `/` (revalidated on every load, so a new build is
 * picked up at once) and each regular file of assets/ at `/assets/NAME`, cached for good since the build puts a
 * content hash in every asset name. Read into memory once: the bundle is small and never changes while running.
 */
async function loadSite(dir: string): Promise<Map<string, SiteFile>> {
  const files = new Map<string, SiteFile>();
  files.set("/", siteFile(await readFile(join(dir, "index.html")), TYPES[".html"] as string, "no-cache"));
  for (const entry of await readdir(join(dir, "assets"), { withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    // Symbolic links are not regular files here: nothing can point the site outside its directory.
    if (!entry.isFile() || !type || !ASSET_NAME.test(entry.name)) continue;
    const body = await readFile(join(dir, "assets", entry.name));
    files.set(`/assets/${entry.name}`, siteFile(body, type, "public, max-age=31536000, immutable"));
  }
  return files;
}

/**
 * Serves a built front end from `dir`. A request names a file only by an exact path of the table loadSite
 * builds, never by joining the URL onto the directory, so no URL can reach outside it.
 */
export class StaticSite {
  private files: Promise<Map<string, SiteFile>> | undefined;

  constructor(readonly dir: string) {}

  /** The file at a URL path (no query), or undefined. */
  async lookup(path: string): Promise<SiteFile | undefined> {
    this.files ??= loadSite(this.dir);
    try {
      return (await this.files).get(path);
    } catch (err) {
      // Not built yet: try again on the next request, so a build while running is picked up.
      this.files = undefined;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new RegistryError(
          "NOT_FOUND",
          `the web console is not built (no ${this.dir}): run npm run build`,
        );
      }
      throw err;
    }
  }

  readonly handle: Handler = async (_s, ctx) => {
    const file = await this.lookup(ctx.path);
    if (!file) throw new RegistryError("NOT_FOUND", `no console file ${ctx.path.slice(0, 200)}`);
    const gzip = file.gzip && /\bgzip\b/.test(String(ctx.req.headers["accept-encoding"] ?? ""));
    const body = gzip ? (file.gzip as Buffer) : file.body;
    ctx.res.writeHead(200, {
      ...CONSOLE_HEADERS,
      "Content-Type": file.type,
      "Content-Length": body.length,
      "Cache-Control": file.cacheControl,
      Vary: "Accept-Encoding",
      ...(gzip ? { "Content-Encoding": "gzip" } : {}),
    });
    ctx.res.end(ctx.head ? undefined : body);
  };
}
