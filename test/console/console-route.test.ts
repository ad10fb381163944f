// The console on the registry's port: `/` and `/assets/…` serve the built bundle with its security headers, while
// the registry API, /metrics, /healthz and the admin API answer as before.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { CONSOLE_HEADERS } from "../../src/console/static-site.js";
import { buildConsole } from "../../web/build.js";
import { useHubAndMirror } from "../fakes/mirror.js";
import { errorCode } from "../helpers.js";

describe("web console route", () => {
  const env = useHubAndMirror();
  let assets: { js: string; css: string; icon: string };
  before(async () => {
    assets = await buildConsole();
  });

  it("serves index.html at / with the CSP, loading only the bundle's hashed assets", async () => {
    const res = await env.mirror.text("/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.equal(res.headers["content-security-policy"], CONSOLE_HEADERS["Content-Security-Policy"]);
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    const html = res.body.toString();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(
      refs.sort(),
      [`assets/${assets.css}`, `assets/${assets.icon}`, `assets/${assets.js}`].sort(),
    );
    assert.doesNotMatch(
      html,
      /<script>|<style|style=|https?:\/\//,
      "no inline script or style, nothing from elsewhere",
    );
  });

  it("serves every asset index.html names, with its type, cached for good", async () => {
    const types: [string, string][] = [
      [assets.js, "text/javascript; charset=utf-8"],
      [assets.css, "text/css; charset=utf-8"],
      [assets.icon, "image/svg+xml"],
    ];
    for (const [name, type] of types) {
      const res = await env.mirror.text(`/assets/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers["content-type"], type, name);
      assert.equal(res.headers["cache-control"], "public, max-age=31536000, immutable", name);
      assert.ok(res.body.length > 0, name);
    }
  });

  it("answers 404 for paths outside the bundle", async () => {
    for (const path of ["/index.html", "/assets/nope.js", "/assets/", "/favicon.ico", "/package.json"]) {
      const res = await env.mirror.text(path);
      assert.equal(res.status, 404, path);
      assert.equal(errorCode(res.body), "NOT_FOUND", path);
    }
  });

  it("leaves /v2/, /metrics, /healthz and /admin/ as they were", async () => {
    const ping = await env.mirror.text("/v2/");
    assert.equal(ping.status, 200);
    assert.deepEqual(JSON.parse(ping.body.toString()), {});
    assert.equal(ping.headers["content-security-policy"], undefined);
    const metrics = await env.mirror.text("/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.body.toString(), /hubmirror_http_requests_total\{[^}]*route="console"/);
    assert.equal((await env.mirror.text("/healthz")).body.toString(), "ok\n");
    const admin = await env.mirror.text("/admin/cache");
    assert.equal(admin.status, 200);
    assert.equal(typeof JSON.parse(admin.body.toString()), "object");
    const write = await env.mirror.get("/", {}, "POST");
    assert.equal(write.statusCode, 405);
    await write.body.dump();
  });
});
