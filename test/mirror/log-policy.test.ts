import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { RegistryError } from "../../src/errors/oci-errors.js";
import type { Services } from "../../src/http/context.js";
import { createRegistryServer } from "../../src/http/server.js";
import { createLogger } from "../../src/log/logger.js";
import { Metrics } from "../../src/metrics/metrics.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { rawExchange } from "../fakes/raw-client.js";
import { eventually } from "../helpers.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
/** Secrets a client or the operator's config hand to the mirror: none may appear in any log line. */
const SECRETS = {
  upstreamPassword: `hub-pw-${randomBytes(8).toString("hex")}`,
  bearer: `bearer-${randomBytes(8).toString("hex")}`,
  cookie: `cookie-${randomBytes(8).toString("hex")}`,
  proxyAuth: `proxy-${randomBytes(8).toString("hex")}`,
  queryToken: `qt-${randomBytes(8).toString("hex")}`,
  queryPassword: `qp-${randomBytes(8).toString("hex")}`,
};

interface Line {
  level: number;
  msg: string;
  status?: number;
  path?: string;
  method?: string;
}

/** Every line a logger built by createLogger writes, as written (after redaction) and parsed. */
function capture(level = "debug") {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      raw.push(chunk.toString());
      done();
    },
  });
  const lines = () =>
    raw
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  return { log: createLogger(level, stream), raw, lines };
}

describe("log levels and secrets", () => {
  const out = capture();
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(
      hub.url,
      { upstream: { username: "hubuser", password: SECRETS.upstreamPassword }, log: { level: "debug" } },
      undefined,
      out.log,
    );
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });

  it("logs client mistakes, unknown digests and tags, and clients that leave at info or below", async () => {
    const digest = hub.addBlob(randomBytes(2 << 20));
    hub.addManifest("library/known", { schemaVersion: 2, mediaType: DOCKER, layers: [] }, DOCKER, "v1");
    const credentials = {
      authorization: `Bearer ${SECRETS.bearer}`,
      cookie: `session=${SECRETS.cookie}`,
      "proxy-authorization": `Basic ${SECRETS.proxyAuth}`,
    };
    const query = `?token=${SECRETS.queryToken}&password=${SECRETS.queryPassword}`;
    const expect: [string, number][] = [
      [`/v2/library/known/manifests/v1${query}`, 200],
      [`/v2/library/known/manifests/nope${query}`, 404],
      [`/v2/library/known/blobs/sha256:${"e".repeat(64)}`, 404],
      [`/v2/library/known/blobs/sha256:${"e".repeat(63)}`, 400],
      [`/v2/NOT_VALID/manifests/v1${query}`, 400],
      ["/v2/library/known/manifests/v1", 405],
      ["/nowhere", 404],
    ];
    for (const [path, status] of expect) {
      const method = status === 405 ? "DELETE" : "GET";
      const res = await mirror.get(path, { ...credentials, accept: DOCKER }, method);
      await res.body.dump();
      assert.equal(res.statusCode, status, path);
    }
    // Malformed HTTP and CONNECT are answered at the socket: logged at info too.
    await rawExchange(mirror.url, `GARBAGE\r\nAuthorization: Bearer ${SECRETS.bearer}\r\n\r\n`);
    await rawExchange(
      mirror.url,
      `CONNECT x:1 HTTP/1.1\r\nProxy-Authorization: Basic ${SECRETS.proxyAuth}\r\n\r\n`,
    );
    // A client that leaves mid-blob: the upstream is slow, so the answer is still streaming when it goes.
    hub.throttle = 1 << 20;
    const res = await mirror.get(`/v2/library/known/blobs/${digest}`, credentials);
    for await (const _ of res.body) break;
    await eventually(
      "the cut request's log line",
      async () => out.lines().some((l) => l.msg === "request" && l.status === 499),
      10_000,
    );
    await mirror.settled();
    hub.throttle = 0;

    const lines = out.lines();
    const serious = lines.filter((l) => l.level >= 40);
    assert.deepEqual(serious, [], "nothing here is the operator's to act on");
    for (const [path, status] of expect) {
      const line = lines.find(
        (l) => l.msg === "request" && l.status === status && l.path?.split("?")[0] === path.split("?")[0],
      );
      assert.equal(line?.status, status, path);
      assert.equal(line?.level, 30, path);
    }
    assert.equal(lines.filter((l) => l.msg === "request rejected").length, 2);
  });

  it("writes no credential into any line", () => {
    const text = out.raw.join("");
    assert.ok(text.length > 0);
    for (const [name, secret] of Object.entries(SECRETS)) {
      assert.ok(!text.includes(secret), `${name} appears in the log`);
    }
    assert.ok(text.includes("[redacted]"), "the query-string token was there to redact");
  });
});

describe("internal errors", () => {
  it("answer 500 with no stack or path, and log the cause at error level, redacted", async () => {
    const out = capture();
    const cause = new Error("EACCES: open '/var/lib/hubmirror/blobs/sha256/ab/secret-file'");
    Object.assign(cause, { headers: { authorization: `Bearer ${SECRETS.bearer}` } });
    const failing = async (): Promise<never> => {
      throw cause;
    };
    // Only what a manifest request reaches before its handler fails.
    const s = {
      manifests: { byTag: failing, byDigest: failing },
      upstreams: {
        resolve: () => ({ upstream: {}, key: { registry: "docker.io", repo: "library/x" } }),
        registryOf: () => "docker.io",
      },
      metrics: new Metrics(),
      stats: { record: () => {} },
    } as unknown as Services;
    const server = createRegistryServer(s, out.log);
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await request(`${url}/v2/x/manifests/latest`);
      const body = await res.body.text();
      assert.equal(res.statusCode, 500);
      assert.deepEqual(JSON.parse(body), {
        errors: [{ code: "UNKNOWN", message: "internal error", detail: null }],
      });
      // A RegistryError's own message is for the client; it is sent as is.
      s.manifests.byTag = async () => {
        throw new RegistryError("MANIFEST_UNKNOWN");
      };
      const known = await request(`${url}/v2/x/manifests/latest`);
      assert.equal(known.statusCode, 404);
      await known.body.dump();
    } finally {
      await new Promise((ok) => server.close(ok));
    }
    const error = out.lines().find((l) => l.level === 50);
    assert.ok(error, "the operator sees the cause");
    const text = out.raw.join("");
    assert.ok(text.includes("/var/lib/hubmirror"), "the log keeps the cause for the operator");
    assert.ok(!text.includes(SECRETS.bearer), "but not a credential it carried");
  });
});
