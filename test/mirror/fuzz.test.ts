import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Agent, errors, request } from "undici";
import { createLogger } from "../../src/log/logger.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { type RawResponse, rawExchange } from "../fakes/raw-client.js";

/**
 * Property-based fuzzing of everything a client controls, against a running mirror in front of a fake Docker Hub:
 * every answer is 2xx/3xx/4xx, every 4xx is OCI error JSON, nothing a client sends makes the mirror answer 5xx, log
 * at error level or log a credential, and it still serves afterwards. Seeded: FUZZ_SEED=<n> replays a run, and
 * FUZZ_RUNS=<n> changes its length (the seed and the case counts are printed).
 */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
/** The share of cases sent on raw sockets (malformed HTTP no client library sends). */
const RAW_SHARE = 0.2;
/** The whole run is cut here, so a slow machine shortens it rather than stalls the suite. */
const TIME_LIMIT_MS = 50_000;

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const SECRET = `fuzz-secret-${randomBytes(8).toString("hex")}`;

// Printable ASCII without space: what undici lets into a request path or a header value.
const visible = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const encoded = (maxLength: number) => fc.string({ maxLength }).map(encodeURIComponent);

function arbitraries(known: { digests: string[]; sizes: number[] }) {
  const component = fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/, { size: "small" });
  const name = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom("alpine", "library/alpine", "myorg/app", "docker.io/library/alpine"),
    },
    { weight: 3, arbitrary: fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join("/")) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("ghcr.io/o/app", "localhost:5000/x", "quay.io/a/b", "_/x", "a//b"),
    },
    { weight: 1, arbitrary: fc.integer({ min: 240, max: 300 }).map((n) => "n".repeat(n)) },
    { weight: 1, arbitrary: visible(80) },
    { weight: 1, arbitrary: encoded(40) },
  );
  const digest = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known.digests) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("sha256", "sha512", "md5", "SHA256", "", "sha256+b64"), visible(140))
        .map(([a, h]) => `${a}:${h}`),
    },
  );
  const reference = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom("v1", "latest", "missing") },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, { size: "small" }) },
    { weight: 2, arbitrary: digest },
    { weight: 1, arbitrary: visible(200) },
  );
  const path = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(name, reference).map(([n, r]) => `/v2/${n}/manifests/${r}`) },
    { weight: 4, arbitrary: fc.tuple(name, digest).map(([n, d]) => `/v2/${n}/blobs/${d}`) },
    { weight: 1, arbitrary: name.map((n) => `/v2/${n}/tags/list`) },
    { weight: 1, arbitrary: fc.tuple(name, digest).map(([n, d]) => `/v2/${n}/referrers/${d}`) },
    { weight: 1, arbitrary: name.map((n) => `/v2/${n}/blobs/uploads/`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("/v2/", "/v2", "/v2/_catalog", "/healthz", "/metrics", "/", "/assets/x.js"),
    },
    { weight: 1, arbitrary: visible(120).map((s) => `/${s}`) },
  );
  const query = fc.option(
    fc.oneof(
      fc.constantFrom(
        "ns=docker.io",
        "ns=ghcr.io",
        "ns=",
        "n=0",
        "n=-1",
        "n=10&last=v1",
        `n=${"9".repeat(30)}`,
      ),
      fc.tuple(encoded(20), encoded(40)).map(([k, v]) => `${k}=${v}`),
      visible(100),
    ),
    { nil: undefined, freq: 2 },
  );
  const maxSize = Math.max(...known.sizes);
  const range = fc.option(
    fc.oneof(
      fc.tuple(fc.nat(maxSize + 10), fc.nat(maxSize + 10)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.nat(maxSize + 10).map((n) => `bytes=-${n}`),
      fc.nat(maxSize + 10).map((n) => `bytes=${n}-`),
      fc.constantFrom(
        "bytes=0-0,5-9",
        "bytes=",
        "bytes=-0",
        `bytes=${"9".repeat(25)}-`,
        "items=0-1",
        "bytes=1-0",
      ),
      visible(60),
    ),
    { nil: undefined, freq: 2 },
  );
  const accept = fc.option(
    fc.oneof(
      fc.constantFrom(
        DOCKER,
        OCI_INDEX,
        "*/*",
        `${DOCKER};q=0`,
        "application/json",
        `${OCI_INDEX}, ${DOCKER}`,
      ),
      fc.array(visible(40), { maxLength: 4 }).map((a) => a.join(", ")),
    ),
    { nil: undefined, freq: 2 },
  );
  const method = fc.oneof(
    { weight: 12, arbitrary: fc.constant("GET") },
    { weight: 5, arbitrary: fc.constant("HEAD") },
    {
      weight: 3,
      arbitrary: fc.constantFrom("DELETE", "PUT", "POST", "PATCH", "OPTIONS", "TRACE", "PROPFIND"),
    },
  );
  // Mostly none; some up to ~2.5x Node's 16 KiB header limit: those must get 431, not a dropped connection.
  const padding = fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 4_000, max: 40_000 }) },
  );
  const request = fc.record({ method, path, query, range, accept, padding });

  const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}$/);
  const target = fc.oneof(path, fc.constantFrom("*", "http://x/v2/", "", "//", "/v2/%", "/v2/\u00e9"));
  const version = fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 extra", "", "http/1.1");
  const header = fc.tuple(visible(30), fc.string({ maxLength: 60 }));
  const raw = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record({ method: token, target, version, headers: fc.array(header, { maxLength: 6 }), padding })
        .filter((r) => r.method !== "HEAD")
        .map((r) => {
          const headers = r.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");
          const big = r.padding ? `X-Pad: ${"p".repeat(r.padding)}\r\n` : "";
          return Buffer.from(
            `${r.method} ${r.target} ${r.version}\r\nHost: m\r\n${headers}${big}\r\n`,
            "latin1",
          );
        }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 400 }).map((a) => Buffer.from(a)) },
  );
  return { request, raw };
}

/** 4xx (and 5xx, which fails anyway) answers carry the OCI error envelope. */
function assertAnswer(status: number, body: Buffer, what: string, head: boolean): void {
  assert.ok(status >= 200 && status < 500, `${what}: status ${status} ${body.toString().slice(0, 300)}`);
  if (status < 400 || head) return;
  let parsed: { errors?: { code?: unknown; message?: unknown }[] };
  try {
    parsed = JSON.parse(body.toString());
  } catch {
    assert.fail(`${what}: ${status} body is not JSON: ${body.toString().slice(0, 200)}`);
  }
  assert.equal(typeof parsed.errors?.[0]?.code, "string", `${what}: ${status} without an OCI error`);
  assert.equal(typeof parsed.errors?.[0]?.message, "string", `${what}: ${status} without a message`);
}

describe("fuzzing what clients control", () => {
  const raw: string[] = [];
  const log = createLogger(
    "info",
    new Writable({
      write(chunk, _enc, done) {
        raw.push(chunk.toString());
        done();
      },
    }),
  );
  const agent = new Agent({ connections: 8, headersTimeout: 10_000, bodyTimeout: 10_000 });
  let hub: FakeHub;
  let mirror: InProcessMirror;
  const known = { digests: [] as string[], sizes: [] as number[] };
  before(async () => {
    hub = await new FakeHub().start();
    for (const size of [0, 1, 4096, 200_000]) {
      known.digests.push(hub.addBlob(randomBytes(size)));
      known.sizes.push(size);
    }
    for (const repo of ["library/alpine", "myorg/app"]) {
      const image = { schemaVersion: 2, mediaType: DOCKER, layers: [] };
      const digest = hub.addManifest(repo, image, DOCKER, "v1");
      known.digests.push(digest);
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: DOCKER, digest, size: 1, platform: { os: "linux", architecture: "amd64" } }],
      };
      known.digests.push(hub.addManifest(repo, index, OCI_INDEX, "latest"));
    }
    mirror = await startInProcessMirror(hub.url, {}, undefined, log);
  });
  after(async () => {
    await agent.close();
    await mirror?.stop();
    await hub?.stop();
  });

  it(`answers every generated request with 2xx-4xx, 4xx as OCI JSON (seed ${SEED})`, async () => {
    console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays this run), ${RUNS} cases`);
    const { request: requests, raw: rawRequests } = arbitraries(known);
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    let sent = 0;
    let rawSent = 0;
    let unanswered = 0;
    const started = performance.now();
    // One time budget for both properties.
    const plugins = () => [fc.interruptAfterTimeLimit(TIME_LIMIT_MS - (performance.now() - started))];

    const viaUndici = fc.asyncProperty(requests, async (r) => {
      const headers: Record<string, string> = { authorization: `Bearer ${SECRET}` };
      if (r.range !== undefined) headers.range = r.range;
      if (r.accept !== undefined) headers.accept = r.accept;
      if (r.padding !== undefined) headers["x-pad"] = "p".repeat(r.padding);
      const url = `${mirror.url}${r.path}${r.query === undefined ? "" : `?${r.query}`}`;
      const what = `${r.method} ${url.slice(0, 300)}`;
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(url, { method: r.method as "GET", headers, dispatcher: agent });
      } catch (err) {
        // The client refusing to send what was generated is the generator's fault, not the mirror's.
        if (err instanceof errors.InvalidArgumentError) return;
        throw new Error(`${what}: no answer (${(err as Error).message})`);
      }
      const body = Buffer.from(await res.body.arrayBuffer());
      sent++;
      count(res.statusCode);
      assertAnswer(res.statusCode, body, what, r.method === "HEAD");
    });
    const runs = Math.round(RUNS * (1 - RAW_SHARE));
    await fc.assert(viaUndici, { seed: SEED, numRuns: runs, plugins: plugins() });

    const viaSocket = fc.asyncProperty(rawRequests, async (bytes) => {
      const what = JSON.stringify(bytes.toString("latin1").slice(0, 200));
      // Half-closed after the bytes: an incomplete request ends there, and must be answered rather than awaited.
      const r = await rawExchange(mirror.url, bytes, { halfClose: true, timeoutMs: 5_000 });
      rawSent++;
      assert.ok(r.closed, `${what}: connection left open`);
      const answered: RawResponse | undefined = r.responses[0];
      if (!answered) {
        // Nothing to answer only when nothing but blank lines was sent (HTTP ignores leading CRLFs).
        unanswered++;
        assert.equal(bytes.toString("latin1").trim(), "", `${what}: closed without an answer`);
        return;
      }
      for (const res of r.responses) {
        count(res.status);
        assertAnswer(res.status, res.body, what, false);
      }
    });
    await fc.assert(viaSocket, { seed: SEED, numRuns: RUNS - runs, plugins: plugins() });

    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const histogram = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`);
    console.log(
      `fuzz: ${sent} requests via undici, ${rawSent} on raw sockets (${unanswered} blank), ${seconds} s;` +
        ` statuses ${histogram.join(" ")}`,
    );
    assert.ok(sent + rawSent >= Math.min(RUNS, 1000), `only ${sent + rawSent} cases ran in ${seconds} s`);
  });

  it("still serves, logged nothing at error level, and logged no credential", async () => {
    await mirror.settled();
    const res = await mirror.text("/v2/");
    assert.equal(res.status, 200);
    const lines = raw.join("").split("\n").filter(Boolean);
    assert.ok(lines.length > 1000, "the access log was captured");
    const errorsLogged = lines.filter((l) => JSON.parse(l).level >= 50);
    assert.deepEqual(errorsLogged.slice(0, 5), [], `${errorsLogged.length} error lines`);
    assert.ok(!raw.join("").includes(SECRET), "the Authorization header was logged");
    const warnings = lines.filter((l) => JSON.parse(l).level === 40).length;
    console.log(`fuzz: ${lines.length} log lines, ${warnings} warnings, ${errorsLogged.length} errors`);
  });
});
