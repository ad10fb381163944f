import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { sendError, toRegistryError } from "../errors/oci-errors.js";
import { RequestContext, type Services } from "../http/context.js";
import { MeteredResponse } from "../http/metered-response.js";
import { CONSOLE_HEADERS, StaticSite } from "./static-site.js";

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request written byte for byte: HTTP clients normalise `..` and `%2e` before sending, a raw socket doesn't. */
function rawRequest(port: number, path: string, method = "GET", extra = ""): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = all.subarray(0, split).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: all.subarray(split + 4) });
    });
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
  });
}

/** A server that answers every request with the site's handler, errors as the registry edge writes them. */
async function serve(site: StaticSite): Promise<Server> {
  const server = createServer({ ServerResponse: MeteredResponse }, (req, res) => {
    const ctx = new RequestContext(req, res as MeteredResponse);
    site.handle({} as Services, ctx).catch((err) => sendError(res, toRegistryError(err), ctx.head));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return server;
}

const INDEX = '<!doctype html><script type="module" src="assets/app-ABC123.js"></script>';
const SCRIPT = `console.log(${JSON.stringify("x".repeat(4000))});`;
const SECRET = "secret outside the site";

describe("the console's static site", () => {
  let root: string;
  let dir: string;
  let server: Server;
  let port: number;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "hubmirror-site-"));
    dir = join(root, "web");
    await writeFile(join(root, "secret.txt"), SECRET);
    await writeFile(join(root, "outside.js"), SECRET);
    server = await serve(new StaticSite(dir));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.close();
    await rm(root, { recursive: true, force: true });
  });

  it("answers 404 naming the build while it is not built, then serves the build", async () => {
    const missing = await rawRequest(port, "/");
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /NOT_FOUND.*the web console is not built.*npm run build/);

    await mkdir(join(dir, "assets", "sub"), { recursive: true });
    await writeFile(join(dir, "index.html"), INDEX);
    await writeFile(join(dir, "assets", "app-ABC123.js"), SCRIPT);
    await writeFile(join(dir, "assets", "app-ABC123.css"), "body{color:red}");
    await writeFile(join(dir, "assets", "favicon-1.svg"), "<svg/>");
    await writeFile(join(dir, "assets", "notes.txt"), "not a type the site serves");
    await writeFile(join(dir, "assets", "sub", "deep.js"), SECRET);
    await symlink(join(root, "outside.js"), join(dir, "assets", "link.js"));
    const built = await rawRequest(port, "/");
    assert.equal(built.status, 200);
    assert.equal(built.body.toString(), INDEX);
  });

  it("serves index.html at / with the security headers, revalidated on every load", async () => {
    const res = await rawRequest(port, "/?utm=x");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(
      res.headers["content-security-policy"],
      "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; " +
        "frame-ancestors 'none'",
    );
    assert.equal(res.headers["content-security-policy"], CONSOLE_HEADERS["Content-Security-Policy"]);
    assert.doesNotMatch(res.headers["content-security-policy"] ?? "", /unsafe|\*/);
    assert.equal(res.headers["content-length"], String(Buffer.byteLength(INDEX)));
  });

  it("serves assets by type, cached for good, gzipped when asked", async () => {
    const types: [string, string][] = [
      ["/assets/app-ABC123.js", "text/javascript; charset=utf-8"],
      ["/assets/app-ABC123.css", "text/css; charset=utf-8"],
      ["/assets/favicon-1.svg", "image/svg+xml"],
    ];
    for (const [path, type] of types) {
      const res = await rawRequest(port, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers["content-type"], type, path);
      assert.equal(res.headers["cache-control"], "public, max-age=31536000, immutable", path);
      assert.equal(res.headers["x-content-type-options"], "nosniff", path);
      assert.ok(res.headers["content-security-policy"], path);
    }
    const plain = await rawRequest(port, "/assets/app-ABC123.js");
    assert.equal(plain.body.toString(), SCRIPT);
    assert.equal(plain.headers["content-encoding"], undefined);
    const gz = await rawRequest(port, "/assets/app-ABC123.js", "GET", "Accept-Encoding: gzip, br\r\n");
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gz.headers.vary, "Accept-Encoding");
    assert.ok(gz.body.length < Buffer.byteLength(SCRIPT));
    assert.equal(gunzipSync(gz.body).toString(), SCRIPT);
  });

  it("answers HEAD with the headers only", async () => {
    const res = await rawRequest(port, "/assets/app-ABC123.js", "HEAD");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-length"], String(Buffer.byteLength(SCRIPT)));
    assert.equal(res.body.length, 0);
  });

  it("answers 404 for anything outside the bundle, and never serves a file outside its directory", async () => {
    const outside = [
      "/index.html",
      "/secret.txt",
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/assets/..",
      "/assets/",
      "/assets",
      "/assets/sub/deep.js",
      "/assets/link.js",
      "/assets/notes.txt",
      "//etc/passwd",
      "/assets/app-ABC123.js/",
      "/assets/APP-ABC123.JS",
      "/assets/app-ABC123.js%00.txt",
    ];
    for (const path of outside) {
      const res = await rawRequest(port, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers["content-type"], "application/json; charset=utf-8", path);
      assert.ok(!res.body.toString().includes(SECRET), path);
    }
  });
});
