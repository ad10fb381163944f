// A blob that is not being cached (here: larger than the cache; the same path a full disk takes) streams through
// memory to the clients reading it, at the pace of the slowest, and keeps no byte longer than they need. A client
// that comes when the bytes it needs are gone gets a download of its own instead of an error.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { useHubAndMirror } from "../fakes/mirror.js";

describe("a blob streamed without keeping it", { timeout: 60_000 }, () => {
  const env = useHubAndMirror({ cache: { maxSize: "1MiB" } });

  it("holds for a slow client, and gives a late one a download of its own", async () => {
    const { hub, mirror } = env;
    const content = randomBytes(32 << 20);
    const digest = hub.addBlob(content);
    const path = `/v2/library/big/blobs/${digest}`;
    const first = await mirror.get(path);
    assert.equal(first.statusCode, 200);
    const reader = first.body[Symbol.asyncIterator]();
    const got: Buffer[] = [];
    let bytes = 0;
    while (bytes < 4 << 20) {
      const { value } = await reader.next();
      got.push(value as Buffer);
      bytes += (value as Buffer).length;
    }
    // The first client stops reading: the download waits for it, and what it read is gone from memory.
    const late = await mirror.text(path);
    assert.equal(late.status, 200);
    assert.ok(late.body.equals(content), "the late client got the whole blob");
    for (let r = await reader.next(); !r.done; r = await reader.next()) got.push(r.value as Buffer);
    assert.ok(Buffer.concat(got).equals(content), "the slow client got the whole blob");
    await mirror.settled();
    const hex = digest.slice("sha256:".length);
    assert.equal(hub.count("GET", new RegExp(hex), true), 2, "one download each");
    assert.equal(await mirror.metrics.value("hubmirror_blob_fills_total", { outcome: "streamed" }), 2);
    assert.equal(await mirror.meta.getBlob(digest as `sha256:${string}`), undefined, "nothing kept");
  });
});
