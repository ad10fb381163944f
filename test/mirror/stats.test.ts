// The usage statistics end to end in-process: requests through the mirror in front of FakeHub, then /api/stats and
// /metrics read back. test/e2e/stats.test.ts does the same with real clients and the real upstream.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { errorCode, eventually } from "../helpers.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const SKOPEO = { "user-agent": "skopeo/1.9.3", accept: `${DOCKER}, ${OCI_INDEX}` };
const CTR = { "user-agent": "containerd/1.6.20~ds1", accept: `${DOCKER}, ${OCI_INDEX}` };
const MiB = 1 << 20;

interface Stats {
  range: string;
  from: number;
  to: number;
  bucketMs: number;
  totals: Record<string, number | null> & { results: Record<string, number> };
  series: Record<string, number | null>[];
  cache: { bytes: number; objects: number; maxSize: number | null };
  users: { registered: number; active: number };
  topImages: { byPulls: { image: string; pulls: number; bytes: number }[]; byBytes: unknown[] };
  clients: Record<string, number>;
  upstreams: Record<string, unknown>[];
  inFlight: { digest: string; repo: string; registry: string; received: number; size: number | null }[];
  recent: Record<string, unknown>[];
}

describe("usage statistics", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  let data: string;
  const config = { cache: { maxSize: "1GiB" } };
  before(async () => {
    hub = await new FakeHub().start();
    data = await mkdtemp(join(tmpdir(), "hubmirror-stats-"));
    mirror = await startInProcessMirror(hub.url, config, data);
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
    await rm(data, { recursive: true, force: true });
  });

  async function stats(query = ""): Promise<Stats> {
    const res = await mirror.text(`/api/stats${query}`);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.headers["content-type"], "application/json");
    return JSON.parse(res.body.toString());
  }

  /** GET (or HEAD) through the mirror; resolves with the body bytes the client got. */
  async function fetched(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET") {
    const res = await mirror.get(path, headers, method);
    return Buffer.from(await res.body.arrayBuffer()).length;
  }

  it("counts pulls, requests, bytes, cache results, clients and images as the requests were made", async () => {
    const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const config = hub.addBlob(configBytes);
    const layerBytes = randomBytes(2 * MiB);
    const layer = hub.addBlob(layerBytes);
    const image = {
      schemaVersion: 2,
      mediaType: DOCKER,
      config: { digest: config },
      layers: [{ digest: layer }],
    };
    const manifest = hub.addManifest("library/app", image, DOCKER, "latest");
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: DOCKER, digest: manifest }],
    };
    hub.addManifest("library/app", index, OCI_INDEX, "multi");
    const before = await stats();
    assert.equal(before.totals.pulls, 0);

    let served = 0;
    const pull = async (headers: Record<string, string>) => {
      served += await fetched("/v2/library/app/manifests/latest", headers);
      served += await fetched(`/v2/library/app/blobs/${config}`, headers);
      served += await fetched(`/v2/library/app/blobs/${layer}`, headers);
    };
    await pull(SKOPEO); // cold: 3 misses
    await mirror.settled();
    await pull(SKOPEO); // warm: 3 hits
    served += await fetched("/v2/library/app/manifests/latest", CTR, "HEAD"); // hit, no pull
    served += await fetched("/v2/library/app/manifests/multi", CTR); // an index: a miss, no pull
    served += await fetched(`/v2/library/app/manifests/${manifest}`, CTR); // a hit and a pull
    const missing = await fetched("/v2/library/missing/manifests/latest"); // an error: no cache result
    served += missing;

    // The client may read the last body before the mirror sees the response close and records it.
    let s = await stats("?range=1h");
    await eventually("every request recorded", async () => {
      s = await stats("?range=1h");
      return s.totals.manifestRequests === 6 && s.totals.blobRequests === 4;
    });
    assert.equal(s.range, "1h");
    assert.equal(s.series.length, 60);
    assert.equal(s.bucketMs, 60_000);
    const upstreamBytes =
      layerBytes.length + configBytes.length + JSON.stringify(image).length + JSON.stringify(index).length;
    assert.deepEqual(
      { ...s.totals, avgSpeed: undefined, peakSpeed: undefined },
      {
        pulls: 3,
        manifestRequests: 6,
        blobRequests: 4,
        servedBytes: served,
        upstreamBytes,
        savedBytes: served - upstreamBytes,
        hits: 5,
        misses: 4,
        hitRatio: 0.5556,
        avgSpeed: undefined,
        peakSpeed: undefined,
        results: { hit: 5, miss: 4, joined: 0, redirect: 0, stale: 0 },
      },
    );
    // The 2 MiB layer, twice, is what was timed (not the config blob); speeds themselves belong to the benchmark.
    assert.ok((s.totals.avgSpeed ?? 0) > 0 && (s.totals.peakSpeed ?? 0) >= (s.totals.avgSpeed ?? 0));
    assert.deepEqual(s.clients, { docker: 0, containerd: 3, podman: 6, kubelet: 0, other: 1 });
    assert.deepEqual(s.topImages.byPulls, [
      { image: "docker.io/library/app", pulls: 3, bytes: served - missing },
    ]);
    assert.deepEqual(s.topImages.byBytes, [
      { image: "docker.io/library/app", pulls: 3, bytes: served - missing },
      { image: "docker.io/library/missing", pulls: 0, bytes: missing },
    ]);
    // Newest first, by when each response closed; the client may have read a body before the mirror saw it close.
    assert.ok(s.recent.every((r, i) => i === 0 || (r.t as number) <= (s.recent[i - 1]?.t as number)));
    const shown = s.recent.map((r) => [r.image, r.reference, r.method, r.result, r.status, r.client, r.user]);
    const app = "docker.io/library/app";
    const skopeo = (reference: string, result: string) => [
      app,
      reference,
      "GET",
      result,
      200,
      "podman",
      null,
    ];
    const ctr = (reference: string, method: string, result: string) => [
      app,
      reference,
      method,
      result,
      200,
      "containerd",
      null,
    ];
    assert.deepEqual(
      shown.sort(),
      [
        ...["miss", "hit"].flatMap((result) => [
          skopeo("latest", result),
          skopeo(config, result),
          skopeo(layer, result),
        ]),
        ctr("latest", "HEAD", "hit"),
        ctr("multi", "GET", "miss"),
        ctr(manifest, "GET", "hit"),
        ["docker.io/library/missing", "latest", "GET", null, 404, "other", null],
      ].sort(),
    );
    const last = s.recent.find((r) => r.status === 404);
    assert.deepEqual(Object.keys(last ?? {}), [
      "t",
      "image",
      "reference",
      "kind",
      "method",
      "result",
      "status",
      "bytes",
      "ms",
      "client",
      "user",
    ]);
    assert.equal(last?.bytes, missing);
    assert.deepEqual(s.users, { registered: 0, active: 0 });
    // The cache's size is read at most once a second.
    await eventually("the cache's size", async () => (await stats()).cache.bytes === upstreamBytes);
    assert.deepEqual((await stats()).cache, { bytes: upstreamBytes, objects: 4, maxSize: 1 << 30 });
    assert.deepEqual(s.upstreams, [
      {
        registry: "docker.io",
        url: hub.url,
        state: "up",
        rateLimitLimit: 100,
        rateLimitRemaining: hub.rateLimitRemaining,
        updatedAt: s.upstreams[0]?.updatedAt,
      },
    ]);
    // Every range holds the same requests: they all happened within the last minutes.
    for (const range of ["24h", "30d", "1y"])
      assert.deepEqual((await stats(`?range=${range}`)).totals, s.totals);
    assert.deepEqual((await stats()).range, "24h");

    const text = (await mirror.text("/metrics")).body.toString();
    assert.match(text, /^hubmirror_pulls_total\{registry="docker.io",client="podman"\} 2$/m);
    assert.match(text, /^hubmirror_pulls_total\{registry="docker.io",client="containerd"\} 1$/m);
    assert.match(text, /^hubmirror_client_requests_total\{client="podman"\} 6$/m);
    assert.match(text, /^hubmirror_blob_download_speed_bytes_per_second_count 2$/m);
    assert.match(text, /^hubmirror_nodejs_eventloop_lag_seconds \d/m);
    assert.match(text, /^hubmirror_nodejs_eventloop_lag_p99_seconds \d/m);
  });

  it("shows a blob download while it runs", async () => {
    const content = randomBytes(MiB);
    const digest = hub.addBlob(content);
    hub.throttle = 512 * 1024;
    try {
      const download = fetched(`/v2/library/slow/blobs/${digest}`, SKOPEO);
      await eventually("the download in inFlight", async () =>
        (await stats()).inFlight.some((d) => d.digest === digest && d.received > 0),
      );
      const [shown] = (await stats()).inFlight;
      assert.deepEqual(
        { ...shown, received: 0 },
        {
          digest,
          registry: "docker.io",
          repo: "library/slow",
          received: 0,
          size: MiB,
        },
      );
      assert.equal(await download, MiB);
      await mirror.settled();
      assert.deepEqual((await stats()).inFlight, []);
    } finally {
      hub.throttle = 0;
    }
  });

  it("refuses an unknown range with REQUEST_INVALID", async () => {
    for (const range of ["7d", "", "1h&x"]) {
      const res = await mirror.text(`/api/stats?range=${encodeURIComponent(range)}`);
      assert.equal(res.status, 400);
      assert.equal(errorCode(res.body), "REQUEST_INVALID");
      assert.match(
        JSON.parse(res.body.toString()).errors[0].message,
        /range "[^"]*" is not one of 1h, 24h, 30d, 1y/,
      );
    }
  });

  it("keeps the figures across a restart", async () => {
    const was = await stats("?range=30d");
    await mirror.stop();
    mirror = await startInProcessMirror(hub.url, config, data);
    const now = await stats("?range=30d");
    assert.deepEqual(now.totals, was.totals);
    assert.deepEqual(now.topImages, was.topImages);
    assert.deepEqual(now.recent, [], "the recent requests are not kept");
  });
});
