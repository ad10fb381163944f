// Tiered mode, the original service's design, end to end: hubmirror caches on local disk, copies finished blobs
// in the background to object storage (radosgw), and once they are there sends clients to a CDN in front of the
// bucket (nginx checking HMAC-SHA256 URL signatures) with a signed 307. Real clients follow it.
//   bash test/netns-run.sh node --import tsx --test test/e2e/tiered-cdn.test.ts
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { request } from "undici";
import { removeTree, tempDir } from "../clients/proc.js";
import { type CdnNginx, startCdnNginx, tamperedSignature } from "../fixtures/cdn-nginx.js";
import { createBucket, type Radosgw, startRadosgw } from "../fixtures/radosgw.js";
import { type ModeName, pullColdThenWarm } from "./pull-modes.js";
import { useStack } from "./stack.js";

const SECRET = "tiered-cdn-secret";
const MODES: ModeName[] = ["dockerd registry-mirrors", "ctr --hosts-dir", "skopeo --registries-conf"];
let rgw: Radosgw;
let cdn: CdnNginx;
let work: string;
const mirror: Record<string, unknown> = {};
const stack = useStack({
  mirror,
  timeout: 90_000,
  prepare: async () => {
    work = await tempDir("tiered-cdn");
    rgw = await startRadosgw();
    const bucket = await createBucket(rgw, "hub-cdn", true);
    cdn = await startCdnNginx(`${rgw.endpoint}/hub-cdn`, SECRET, join(work, "nginx"));
    mirror.offload = {
      url: bucket,
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      interval: "200ms",
    };
    mirror.storage = {
      redirect: {
        mode: "cdn",
        expiry: "5m",
        cdn: { baseUrl: cdn.hmacBase, signer: "hmac-sha256", secret: SECRET },
      },
    };
  },
});
after(async () => {
  await cdn?.stop();
  await rgw?.stop();
  if (work) await removeTree(work);
});

const metric = (name: string, labels: Record<string, string> = {}) =>
  stack.mirror.process.metric(name, labels);

async function offloadStatus(): Promise<{
  synced: { count: number };
  pending: { count: number };
  failed: { count: number };
}> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    "--import",
    "tsx",
    "src/cli.ts",
    "offload",
    "status",
    "--data",
    stack.mirror.data,
    "--json",
  ]);
  return JSON.parse(stdout);
}

describe("tiered mode: local cache, offload to object storage, CDN redirects", { timeout: 240_000 }, () => {
  test("cold pulls are served locally, offloaded in the background, then redirected through the CDN", async (t) => {
    const images = stack.hub.images;
    const offloaded = async () => {
      for (let i = 0; ; i++) {
        const s = await offloadStatus();
        if (s.pending.count === 0) {
          assert.equal(s.failed.count, 0);
          return;
        }
        assert.ok(i < 100, `offload never finished: ${JSON.stringify(s)}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }
    };
    for (const name of MODES) {
      const mode = stack.modes[name];
      const { redirected, wanted } = await pullColdThenWarm(mode, images, stack.mirror.process, offloaded);
      t.diagnostic(`${name}: ${redirected} blob GETs sent to the CDN on the warm pulls (≥ ${wanted})`);
      assert.ok(redirected >= wanted, `${name}: warm blob GETs were redirected`);
    }
    const status = await offloadStatus();
    t.diagnostic(`offload status: ${JSON.stringify(status)}`);
    assert.ok(status.synced.count > 0);
    assert.equal(await metric("hubmirror_offload_copies_total", { outcome: "failed" }), 0);
  });

  test("a CDN URL with a tampered signature is refused", async () => {
    const img = stack.hub.catalogue.busybox;
    const layer = img.blobs.at(-1)?.digest as string;
    const res = await request(`${stack.mirror.process.url}/v2/${img.repo}/blobs/${layer}`);
    await res.body.dump();
    assert.equal(res.statusCode, 307);
    const location = String(res.headers.location);
    assert.ok(location.startsWith(cdn.hmacBase), location);
    const good = await request(location);
    await good.body.dump();
    assert.equal(good.statusCode, 200);
    const bad = await request(tamperedSignature(location, "token"));
    await bad.body.dump();
    assert.equal(bad.statusCode, 403);
  });
});
