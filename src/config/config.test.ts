import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { ConfigError, loadConfig, parseConfig } from "./load.js";

it("has embedded defaults", () => {
  const c = parseConfig({});
  assert.equal(c.listen, "0.0.0.0:5000");
  assert.equal(c.data, "./data");
  assert.equal(c.upstream.url, "https://registry-1.docker.io");
  assert.equal(c.upstream.registry, "docker.io");
  assert.equal(c.cache.tagTtl, 300_000);
  assert.equal(c.storage.url, undefined);
  assert.equal(c.storage.redirect.mode, "off");
  assert.equal(c.storage.redirect.expiry, 20 * 60_000);
  assert.equal(c.offload.url, undefined);
});

it("parses durations", () => {
  const c = parseConfig({ cache: { tagTtl: "90s", staleAfter: "250ms" }, upstream: { bodyTimeout: "2m" } });
  assert.equal(c.cache.tagTtl, 90_000);
  assert.equal(c.cache.staleAfter, 250);
  assert.equal(c.upstream.bodyTimeout, 120_000);
});

it("names the bad key in its error", () => {
  assert.throws(() => parseConfig({ cache: { tagTTL: "5m" } }), /cache\.tagTTL: unknown key/);
  assert.throws(
    () => parseConfig({ upstream: { url: "ftp://x" } }),
    /upstream\.url: expected an http\(s\) URL/,
  );
  assert.throws(() => parseConfig({ listen: "5000" }), /listen: expected "HOST:PORT"/);
  assert.throws(() => parseConfig({ cache: { tagTtl: "soon" } }), /cache\.tagTtl/);
  assert.throws(() => parseConfig({ storage: { url: "s4://x" } }), /storage\.url: unknown storage scheme/);
  assert.throws(() => parseConfig({ offload: { minSize: "lots" } }), /offload\.minSize: expected a size/);
  assert.equal(parseConfig({ offload: { minSize: "10MiB" } }).offload.minSize, 10 << 20);
  assert.throws(() => parseConfig({ storage: { redirect: { mode: "cdn" } } }), ConfigError);
});

it("layers file < environment < command line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hubmirror-cfg-"));
  const file = join(dir, "c.yaml");
  await writeFile(
    file,
    "listen: 127.0.0.1:1\ndata: /from-file\nupstream:\n  username: u\n  url: http://file:1\n",
  );
  const env = { HUBMIRROR_CONFIG: file, HUBMIRROR_DATA: "/from-env", HUBMIRROR_UPSTREAM: "http://env:2" };
  const c = loadConfig({ upstream: "http://127.0.0.1:3" }, env);
  assert.equal(c.listen, "127.0.0.1:1");
  assert.equal(c.data, "/from-env");
  assert.equal(c.upstream.url, "http://127.0.0.1:3");
  assert.equal(c.upstream.username, "u");
  await writeFile(file, "listen: [\n");
  assert.throws(() => loadConfig({}, env), /invalid YAML/);
  assert.throws(() => loadConfig({ config: join(dir, "missing.yaml") }, {}), /ENOENT/);
});

it("takes the cache lifecycle settings, and names a bad size or image", () => {
  const c = parseConfig({
    cache: {
      maxSize: "200GiB",
      minFreeDisk: "5GiB",
      retention: { tags: "30d", content: "90d" },
      pin: ["library/ubuntu:22.04"],
    },
    prefetch: { images: ["ubuntu"], platforms: ["linux/amd64", "linux/arm/v7"] },
    admin: { token: "0123456789abcdef" },
  });
  assert.equal(c.cache.maxSize, 200 * 2 ** 30);
  assert.equal(c.cache.minFreeDisk, 5 * 2 ** 30);
  assert.equal(c.cache.retention.tags, 30 * 86_400_000);
  assert.equal(c.cache.gc.grace, 3_600_000);
  assert.deepEqual(c.cache.pin, ["library/ubuntu:22.04"]);
  assert.equal(parseConfig({}).cache.maxSize, undefined, "no cap by default");
  assert.equal(parseConfig({}).cache.retention.content, undefined, "no retention by default");
  assert.throws(() => parseConfig({ cache: { maxSize: "200GB" } }), /cache\.maxSize: expected a size like/);
  assert.throws(() => parseConfig({ cache: { pin: ["Ubuntu!"] } }), /cache\.pin\.0: .*Ubuntu!/);
  assert.throws(() => parseConfig({ prefetch: { platforms: ["amd64"] } }), /prefetch\.platforms\.0/);
  assert.throws(() => parseConfig({ admin: { token: "short" } }), /admin\.token/);
});

it("takes the size cap from --max-size or HUBMIRROR_MAX_SIZE", () => {
  assert.equal(loadConfig({ maxSize: "1GiB" }, {}).cache.maxSize, 2 ** 30);
  assert.equal(loadConfig({}, { HUBMIRROR_MAX_SIZE: "1048576" }).cache.maxSize, 2 ** 20);
  assert.throws(() => loadConfig({ maxSize: "lots" }, {}), /cache\.maxSize: expected a size/);
});

it("refuses a free-disk mark on storage that is not a local filesystem", () => {
  const s3 = "s3://cache?endpoint=http://127.0.0.1:9000&region=x";
  assert.throws(
    () => parseConfig({ cache: { minFreeDisk: "10GiB" }, storage: { url: s3 } }),
    /cache\.minFreeDisk: a free-disk mark needs filesystem storage \(fs:\/\/\), not s3:\/\/cache/,
  );
  assert.throws(
    () => parseConfig({ cache: { minFreeDisk: "10GiB" }, storage: { url: "memory://" } }),
    ConfigError,
  );
  assert.equal(parseConfig({ cache: { minFreeDisk: "10GiB" } }).cache.minFreeDisk, 10 * 2 ** 30);
  assert.equal(
    parseConfig({ cache: { minFreeDisk: 1 }, storage: { url: "fs:///var/lib/hubmirror" } }).cache.minFreeDisk,
    1,
  );
});

it("users mode: defaults off, and bad auth values named", () => {
  const c = parseConfig({});
  assert.equal(c.auth.mode, "anonymous");
  assert.equal(c.auth.signup, "invite");
  assert.deepEqual(c.auth.quota, { requestsPerMinute: 0, bytesPerDay: 0 });
  assert.equal(c.auth.sessionLifetime, 7 * 86_400_000);
  const users = parseConfig({
    auth: {
      mode: "users",
      domain: "mirror.example",
      quota: { bytesPerDay: "10GiB" },
      url: "https://m.example",
    },
  });
  assert.equal(users.auth.quota.bytesPerDay, 10 * 2 ** 30);
  assert.throws(() => parseConfig({ auth: { mode: "accounts" } }), /auth\.mode/);
  assert.throws(
    () => parseConfig({ auth: { domain: "https://mirror.example" } }),
    /auth\.domain: expected a lowercase DNS name/,
  );
  assert.throws(() => parseConfig({ auth: { domain: "Mirror.Example" } }), /auth\.domain/);
  assert.throws(
    () => parseConfig({ auth: { quota: { requestsPerMinute: -1 } } }),
    /auth\.quota\.requestsPerMinute/,
  );
  assert.throws(() => parseConfig({ auth: { signup: "maybe" } }), /auth\.signup/);
});
