import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { useHubAndMirror } from "../fakes/mirror.js";
import { sha256Hex } from "../helpers.js";

const SIZE = 24 << 20;
const t = useHubAndMirror();

it("32 clients on one uncached blob: one upstream download, 32 correct bodies, late and ranged ones included", async () => {
  const content = randomBytes(SIZE);
  const digest = t.hub.addBlob(content);
  // Slow enough that late clients join a download in progress.
  t.hub.throttle = Number(process.env.T ?? 64 << 20);
  const path = `/v2/library/busy/blobs/${digest}`;
  const ranges: [number, number][] = [
    [0, 99],
    [SIZE / 2, SIZE / 2 + (1 << 20) - 1],
    [SIZE - 1000, SIZE - 1],
    [12345, SIZE - 1],
  ];
  const client = async (i: number) => {
    const range = i >= 24 ? ranges[i % ranges.length] : undefined;
    // A third of the clients arrive while the download is under way.
    if (i % 3 === 2) await sleep(300);
    const res = await t.mirror.text(path, range ? { range: `bytes=${range[0]}-${range[1]}` } : {});
    const want = range ? content.subarray(range[0], range[1] + 1) : content;
    assert.equal(res.status, range ? 206 : 200, `client ${i}`);
    assert.equal(sha256Hex(res.body), sha256Hex(want), `client ${i} got the right bytes`);
  };
  await Promise.all(Array.from({ length: 32 }, (_, i) => client(i)));
  assert.equal(t.hub.count("GET", new RegExp(`/cdn/${digest}`)), 1, "exactly one upstream download");
  assert.equal(t.hub.count("GET", new RegExp(`blobs/${digest}`)), 1, "exactly one registry request");
  const joined = await t.mirror.metrics.value("hubmirror_cache_requests_total", {
    kind: "blob",
    result: "joined",
  });
  assert.ok(joined >= 20, `most clients joined the download (${joined})`);
  t.hub.throttle = 0;
});

it("a fill goes on when every client has gone, and is cached", async () => {
  const content = randomBytes(8 << 20);
  const digest = t.hub.addBlob(content);
  t.hub.throttle = 16 << 20;
  const res = await t.mirror.get(`/v2/library/gone/blobs/${digest}`);
  const iterator = res.body[Symbol.asyncIterator]();
  await iterator.next();
  res.body.destroy();
  t.hub.throttle = 0;
  await t.mirror.settled();
  const again = await t.mirror.text(`/v2/library/gone/blobs/${digest}`);
  assert.ok(again.body.equals(content));
  assert.equal(t.hub.count("GET", new RegExp(`/cdn/${digest}`)), 1);
});
