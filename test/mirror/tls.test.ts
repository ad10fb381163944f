// HTTPS: the mirror serves the registry API over TLS with a certificate from a test CA; SIGHUP's reload swaps in
// a new certificate for new connections while open ones go on; a bad pair is refused and the old one kept; TLS 1.1
// is refused; the redirect listener sends plain-HTTP clients to HTTPS with a 308.
//   bash test/netns-run.sh node --import tsx --test test/mirror/tls.test.ts
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { Agent, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ConnectionOptions, connect, type TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { pino } from "pino";
import { loadConfig } from "../../src/config/load.js";
import { loadKeyPair, TlsSetupError } from "../../src/tls/key-pair.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { type IssuedCert, TestCa } from "../fixtures/test-ca.js";
import { eventually, sha256Digest } from "../helpers.js";

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The serial of the certificate the connection was made with. */
  serial: string;
  /** Whether the agent sent it on a connection it had kept open. */
  reused: boolean;
}

function get(url: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      // Read now: a kept-alive socket is handed back to the agent at the end.
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          serial,
          reused: req.reusedSocket,
        }),
      );
    });
    req.on("error", reject).end();
  });
}

/** A fresh TLS connection to `port`: resolves with the socket once the handshake is done (the caller ends it). */
function handshake(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ...options }, () => resolve(socket));
    socket.once("error", reject);
  });
}

async function servedSerial(port: number, ca: Buffer): Promise<string> {
  const socket = await handshake(port, { ca, servername: "mirror.test" });
  const serial = socket.getPeerCertificate().serialNumber;
  socket.end();
  return serial;
}

describe("HTTPS", { timeout: 60_000 }, () => {
  let dir: string;
  let ca: TestCa;
  let caPem: Buffer;
  let first: IssuedCert;
  let hub: FakeHub;
  let mirror: InProcessMirror;
  let port: number;
  const live = { cert: "", key: "" };
  const logs: { msg: string; level: number; err?: string }[] = [];
  const install = async (pair: { cert: string; key: string }) => {
    await copyFile(pair.cert, live.cert);
    await copyFile(pair.key, live.key);
  };
  const issue = (cn: string) => ca.issue(cn, { names: ["mirror.test"], ips: ["127.0.0.1"] });
  const reloads = (outcome: string) => mirror.metrics.value("hubmirror_tls_reloads_total", { outcome });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hubmirror-tls-"));
    ca = await TestCa.create(dir);
    caPem = await readFile(ca.caFile);
    first = await issue("mirror one");
    live.cert = join(dir, "live.crt");
    live.key = join(dir, "live.key");
    await install(first);
    hub = await new FakeHub().start();
    const log = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    mirror = await startInProcessMirror(
      hub.url,
      { tls: { cert: live.cert, key: live.key, redirectListen: "127.0.0.1:0" } },
      undefined,
      log,
    );
    port = (mirror.server.address() as AddressInfo).port;
  });
  after(async () => {
    await mirror?.stop();
    await hub?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the registry over HTTPS to a client that trusts only the test CA", async () => {
    assert.equal(mirror.url, `https://127.0.0.1:${port}`);
    const agent = new Agent({ ca: caPem });
    const res = await get(`${mirror.url}/v2/`, agent);
    assert.equal(res.status, 200);
    assert.equal(res.headers["docker-distribution-api-version"], "registry/2.0");
    assert.equal(res.serial, first.serial);
    // A blob streams through TLS whole.
    const content = randomBytes(3 << 20);
    const digest = hub.addBlob(content);
    const blob = await get(`${mirror.url}/v2/library/tls/blobs/${digest}`, agent);
    assert.equal(blob.status, 200);
    assert.equal(sha256Digest(blob.body), digest);
    agent.destroy();
    // The certificate is checked, by address and by name: without the CA it is refused.
    await assert.rejects(get(`${mirror.url}/v2/`, new Agent()), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    assert.equal(await servedSerial(port, caPem), first.serial);
  });

  it("reload: an open connection goes on with the old certificate, a new one gets the new", async () => {
    const agent = new Agent({ ca: caPem, keepAlive: true, maxSockets: 1 });
    const before = await get(`${mirror.url}/v2/`, agent);
    assert.equal(before.serial, first.serial);
    const second = await issue("mirror two");
    await install(second);
    assert.equal(await mirror.reloadTls(), true);
    assert.equal(await reloads("ok"), 1);
    const kept = await get(`${mirror.url}/v2/`, agent);
    assert.deepEqual([kept.status, kept.reused, kept.serial], [200, true, first.serial]);
    assert.equal(await servedSerial(port, caPem), second.serial);
    const fresh = new Agent({ ca: caPem });
    const after = await get(`${mirror.url}/v2/`, fresh);
    assert.deepEqual([after.status, after.reused, after.serial], [200, false, second.serial]);
    agent.destroy();
    fresh.destroy();
    const line = logs.find((l) => l.msg === "TLS certificate reloaded");
    assert.ok(line, "the reload is logged");
  });

  it("reload: a bad pair is refused, logged and counted; the current certificate stays", async () => {
    const current = await servedSerial(port, caPem);
    const other = await issue("mirror three");
    // The new certificate with the key of another: a renewal gone wrong.
    await install({ cert: other.cert, key: first.key });
    assert.equal(await mirror.reloadTls(), false);
    await copyFile(join(dir, "missing.crt"), live.cert).catch(() => rm(live.cert));
    assert.equal(await mirror.reloadTls(), false);
    assert.equal(await reloads("failed"), 2);
    assert.equal(await servedSerial(port, caPem), current);
    const errors = logs.filter((l) => l.level >= 50).map((l) => l.err ?? "");
    assert.equal(errors.length, 2);
    assert.match(errors[0] ?? "", /tls\.key .*live\.key is not the key of the certificate in .*live\.crt/);
    assert.match(errors[1] ?? "", /tls\.cert .*live\.crt: ENOENT/);
    await install(other);
    assert.equal(await mirror.reloadTls(), true);
    assert.equal(await servedSerial(port, caPem), other.serial);
  });

  it("refuses TLS 1.1 and below, accepts TLS 1.2", async () => {
    // SECLEVEL=0 lets this client offer TLS 1.1 at all: the refusal must come from the server.
    const old = { ca: caPem, minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" } as const;
    await assert.rejects(handshake(port, { ...old, maxVersion: "TLSv1.1" }), {
      code: "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
    });
    const tls12 = await handshake(port, { ...old, maxVersion: "TLSv1.2" });
    assert.equal(tls12.getProtocol(), "TLSv1.2");
    tls12.end();
  });

  it("the redirect listener answers every request with a 308 to the same path on HTTPS", async () => {
    assert.ok(mirror.redirectUrl);
    const redirectPort = Number(new URL(mirror.redirectUrl).port);
    const path = "/v2/library/busybox/manifests/latest?ns=docker.io";
    const cases: [string, string][] = [
      [`mirror.test:${redirectPort}`, `https://mirror.test:${port}${path}`],
      ["mirror.test", `https://mirror.test:${port}${path}`],
      [`127.0.0.1:${redirectPort}`, `https://127.0.0.1:${port}${path}`],
      [`[::1]:${redirectPort}`, `https://[::1]:${port}${path}`],
    ];
    for (const [host, location] of cases) {
      const res = await plainHttp(redirectPort, "HEAD", path, { host });
      assert.deepEqual([res.status, res.location], [308, location], host);
    }
    const post = await plainHttp(redirectPort, "POST", "//evil.test/x", { host: "mirror.test" });
    assert.deepEqual([post.status, post.location], [308, `https://mirror.test:${port}//evil.test/x`]);
    const bad = await plainHttp(redirectPort, "GET", "/v2/", { host: "a@evil.test" });
    assert.equal(bad.status, 400);
    // Followed, the redirect reaches the registry.
    const { location } = await plainHttp(redirectPort, "GET", "/v2/", { host: `127.0.0.1:${redirectPort}` });
    const followed = await get(location ?? "", new Agent({ ca: caPem }));
    assert.equal(followed.status, 200);
    assert.equal(followed.headers["docker-distribution-api-version"], "registry/2.0");
  });

  it("close() lets a transfer over TLS finish, then closes the HTTPS server and the redirect listener", async () => {
    const redirectPort = Number(new URL(mirror.redirectUrl ?? "").port);
    const content = randomBytes(2 << 20);
    const digest = hub.addBlob(content);
    hub.throttle = 1 << 20; // 2 s for the blob: the close comes mid-transfer
    const agent = new Agent({ ca: caPem, keepAlive: true });
    // An idle kept-alive connection must not hold the close up.
    await get(`${mirror.url}/v2/`, agent);
    const upstreamGets = hub.count("GET", /\/blobs\//);
    const transfer = get(`${mirror.url}/v2/library/tls/blobs/${digest}`, agent);
    await eventually("the transfer to start", async () => hub.count("GET", /\/blobs\//) > upstreamGets);
    await mirror.close();
    const blob = await transfer;
    assert.equal(sha256Digest(blob.body), digest, "the transfer in flight finished whole");
    agent.destroy();
    await assert.rejects(handshake(port, { ca: caPem }), { code: "ECONNREFUSED" });
    await assert.rejects(plainHttp(redirectPort, "GET", "/v2/", { host: "x" }), { code: "ECONNREFUSED" });
  });
});

function plainHttp(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    });
    req.on("error", reject).end();
  });
}

describe("TLS setup", () => {
  let dir: string;
  let ca: TestCa;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hubmirror-tls-setup-"));
    ca = await TestCa.create(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("names the file at fault: missing, not PEM, or a key from another pair", async () => {
    const a = await ca.issue("a", { ips: ["127.0.0.1"] });
    const b = await ca.issue("b", { ips: ["127.0.0.1"] });
    const missing = join(dir, "nope.pem");
    await assert.rejects(loadKeyPair({ cert: missing, key: a.key }), (err: Error) => {
      assert.ok(err instanceof TlsSetupError);
      assert.match(err.message, new RegExp(`^tls\\.cert ${missing}: ENOENT`));
      return true;
    });
    await assert.rejects(loadKeyPair({ cert: a.key, key: a.key }), /^TlsSetupError: tls\.cert .*: not a PEM/);
    await assert.rejects(
      loadKeyPair({ cert: a.cert, key: a.cert }),
      /tls\.key .*a-1\.crt: not an unencrypted/,
    );
    await assert.rejects(loadKeyPair({ cert: a.cert, key: b.key }), /tls\.key .*b-2\.key is not the key/);
    const pair = await loadKeyPair({ cert: a.cert, key: a.key });
    assert.equal(pair.leaf.serialNumber, a.serial);
    // The mirror does not start on a bad pair.
    await assert.rejects(startInProcessMirror("http://127.0.0.1:9", { tls: { cert: a.cert, key: b.key } }), {
      name: "TlsSetupError",
    });
  });

  it("`serve` with a key that is not the certificate's exits 1 with a message, not a stack trace", async () => {
    const a = await ca.issue("cli-a");
    const b = await ca.issue("cli-b");
    const args = [
      "--import",
      "tsx",
      "src/cli.ts",
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      join(dir, "d"),
    ];
    const res = await run(process.execPath, [...args, "--tls-cert", a.cert, "--tls-key", b.key], {
      cwd: REPO_ROOT,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      /^hubmirror: cannot use TLS: tls\.key .*cli-b-\d+\.key is not the key of the certificate/,
    );
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });

  it("--tls-cert/--tls-key and HUBMIRROR_TLS_CERT/_KEY set tls.cert and tls.key", () => {
    const flags = loadConfig({ tlsCert: "/c.pem", tlsKey: "/k.pem" }, {});
    assert.deepEqual([flags.tls.cert, flags.tls.key], ["/c.pem", "/k.pem"]);
    const env = loadConfig({}, { HUBMIRROR_TLS_CERT: "/e.pem", HUBMIRROR_TLS_KEY: "/ek.pem" });
    assert.deepEqual([env.tls.cert, env.tls.key], ["/e.pem", "/ek.pem"]);
    assert.throws(() => loadConfig({ tlsCert: "/c.pem" }, {}), /tls\.cert and tls\.key go together/);
  });
});
