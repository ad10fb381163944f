import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { useHubAndMirror } from "../fakes/mirror.js";
import { get, type RawResponse, rawExchange } from "../fakes/raw-client.js";
import { sha256Digest } from "../helpers.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";

/** A well-formed OCI error answer with this status (and code, when given). */
function assertOciError(res: RawResponse | undefined, status: number | number[], code?: string): void {
  assert.ok(res, "an answer arrived");
  assert.ok([status].flat().includes(res.status), `status ${res.status}, expected ${status}`);
  assert.match(res.headers["content-type"] ?? "", /^application\/json/);
  const body = JSON.parse(res.body.toString());
  assert.equal(typeof body.errors?.[0]?.code, "string");
  assert.equal(typeof body.errors[0].message, "string");
  if (code) assert.equal(body.errors[0].code, code);
}

const CLOSE = "Connection: close\r\n";

describe("malformed and unusual HTTP, on raw sockets", () => {
  const env = useHubAndMirror();

  it("answers malformed request lines with 400 and OCI JSON, then closes", async () => {
    for (const bad of [
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n",
      "GET /v2/ FTP/1.1\r\nHost: x\r\n\r\n",
      "GET /v2/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
      "GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "\x00\x01\x02\xff\r\n\r\n",
      "FOO /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ]) {
      const r = await rawExchange(env.mirror.url, Buffer.from(bad, "latin1"));
      assert.equal(r.responses.length, 1, JSON.stringify(bad));
      assertOciError(r.responses[0], 400, "REQUEST_INVALID");
      assert.equal(r.responses[0]?.headers.connection, "close");
      assert.ok(r.closed, `the connection is closed after ${JSON.stringify(bad)}`);
    }
    const counted = { route: "none", status: "400", method: "" };
    assert.equal(await env.mirror.metrics.value("hubmirror_http_requests_total", counted), 10);
  });

  it("answers an HTTP/1.1 request without Host with 400 OCI JSON, and serves an Upgrade request as a plain one", async () => {
    const noHost = await rawExchange(env.mirror.url, "GET /v2/ HTTP/1.1\r\n\r\n", { halfClose: true });
    assertOciError(noHost.responses[0], 400, "REQUEST_INVALID");
    const old = await rawExchange(env.mirror.url, "GET /v2/ HTTP/1.0\r\n\r\n");
    assert.equal(old.responses[0]?.status, 200, "HTTP/1.0 needs no Host");
    const upgrade = await rawExchange(
      env.mirror.url,
      get("/v2/", `Connection: Upgrade, close\r\nUpgrade: websocket\r\n`),
    );
    assert.equal(upgrade.responses[0]?.status, 200);
  });

  it("answers a request head too large with 431 (or 400), never a silent close", async () => {
    for (const head of [
      get("/v2/", `X-Big: ${"a".repeat(100_000)}\r\n`),
      get("/v2/", Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join("")),
      `GET /v2/${"a/".repeat(40_000)}manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n`,
    ]) {
      const r = await rawExchange(env.mirror.url, head);
      assertOciError(r.responses[0], [431, 400]);
      assert.ok(r.closed);
    }
  });

  it("answers a manifest GET whose client half-closed after sending it, in full", async () => {
    const manifest = { schemaVersion: 2, mediaType: DOCKER, layers: [] };
    const digest = env.hub.addManifest("library/halfclosed", manifest, DOCKER, "v1");
    for (const round of ["cold", "warm"]) {
      const r = await rawExchange(
        env.mirror.url,
        get("/v2/halfclosed/manifests/v1", `Accept: ${DOCKER}\r\n`),
        { halfClose: true },
      );
      assert.equal(r.responses.length, 1, round);
      assert.equal(r.responses[0]?.status, 200, round);
      assert.equal(sha256Digest(r.responses[0]?.body ?? ""), digest, round);
      assert.equal(r.rest.length, 0);
      assert.ok(r.closed, "closed once the answer is sent");
    }
  });

  it("answers a blob GET whose client half-closed after sending it, in full, cold and warm", async () => {
    const blob = randomBytes(3 << 20);
    const digest = env.hub.addBlob(blob);
    for (const round of ["cold", "warm"]) {
      const r = await rawExchange(env.mirror.url, get(`/v2/library/halfclosed/blobs/${digest}`), {
        halfClose: true,
      });
      assert.equal(r.responses[0]?.status, 200, round);
      assert.equal(r.responses[0]?.body.length, blob.length, round);
      assert.equal(sha256Digest(r.responses[0]?.body ?? ""), digest, round);
      assert.ok(r.closed);
    }
    // A ranged one too, and a HEAD.
    const ranged = await rawExchange(
      env.mirror.url,
      get(`/v2/library/halfclosed/blobs/${digest}`, "Range: bytes=100-199\r\n"),
      { halfClose: true },
    );
    assert.equal(ranged.responses[0]?.status, 206);
    assert.deepEqual(ranged.responses[0]?.body, blob.subarray(100, 200));
  });

  it("answers pipelined requests in order: good ones, then 400 for the garbage after them", async () => {
    const digest = env.hub.addManifest(
      "library/piped",
      { schemaVersion: 2, mediaType: DOCKER },
      DOCKER,
      "v1",
    );
    const r = await rawExchange(
      env.mirror.url,
      `${get("/v2/piped/manifests/v1", `Accept: ${DOCKER}\r\n`)}${get("/v2/")}NOT HTTP AT ALL\r\n\r\n`,
    );
    assert.deepEqual(
      r.responses.map((x) => x.status),
      [200, 200, 400],
    );
    assert.equal(sha256Digest(r.responses[0]?.body ?? ""), digest);
    assertOciError(r.responses[2], 400, "REQUEST_INVALID");
    assert.ok(r.closed);
    // And the same over a half-closed connection.
    const half = await rawExchange(env.mirror.url, `${get("/v2/")}\x01\x02\r\n\r\n`, { halfClose: true });
    assert.deepEqual(
      half.responses.map((x) => x.status),
      [200, 400],
    );
  });

  it("refuses CONNECT and methods a read-only mirror does not serve with 405", async () => {
    const connect = await rawExchange(env.mirror.url, "CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assertOciError(connect.responses[0], 405, "UNSUPPORTED");
    assert.ok(connect.closed);
    for (const method of ["DELETE", "PUT", "POST", "PATCH", "OPTIONS", "PROPFIND", "PURGE", "TRACE"]) {
      const r = await rawExchange(
        env.mirror.url,
        `${method} /v2/library/x/manifests/latest HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assertOciError(r.responses[0], 405, "UNSUPPORTED");
    }
  });

  it("answers a name over 255 characters once library/ is added with NAME_INVALID, before any upstream request", async () => {
    const before = env.hub.requests.length + env.hub.tokenRequests.length;
    for (const name of ["a".repeat(248), "a".repeat(255), `org/${"b".repeat(252)}`, "a".repeat(5000)]) {
      for (const path of [`/v2/${name}/manifests/latest`, `/v2/${name}/blobs/sha256:${"0".repeat(64)}`]) {
        const r = await rawExchange(env.mirror.url, get(path, CLOSE));
        assertOciError(r.responses[0], 400, "NAME_INVALID");
      }
    }
    assert.equal(env.hub.requests.length + env.hub.tokenRequests.length, before, "nothing went upstream");
    // 247 + "library/" is exactly the limit: routed upstream, which doesn't know it.
    const edge = await rawExchange(env.mirror.url, get(`/v2/${"a".repeat(247)}/manifests/latest`, CLOSE));
    assertOciError(edge.responses[0], 404, "MANIFEST_UNKNOWN");
  });
});
