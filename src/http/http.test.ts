import assert from "node:assert/strict";
import { it } from "node:test";
import { accepts, parseAccept } from "./accept.js";
import { parseRange } from "./range.js";

it("parses ranges against a size", () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange("bytes=0-4", 10), { start: 0, end: 4 });
  assert.deepEqual(parseRange("bytes=5-", 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=5-100", 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=-3", 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange("bytes=-30", 10), { start: 0, end: 9 });
  assert.equal(parseRange("bytes=0-1,3-4", 10), undefined);
  for (const bad of ["bytes=10-", "bytes=4-2", "bytes=x-", "bytes=-0", "items=0-1", "bytes=", "bytes=-"]) {
    assert.throws(() => parseRange(bad, 10), /cannot satisfy range/, bad);
  }
});

it("parses Accept lists in any order", () => {
  const a = parseAccept([
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json;q=0.9",
    "application/json; q=0",
  ]);
  assert.ok(accepts(a, "application/vnd.oci.image.index.v1+json"));
  assert.ok(accepts(a, "application/vnd.docker.distribution.manifest.v2+json"));
  assert.ok(!accepts(a, "application/json"));
  assert.ok(!accepts(a, "application/vnd.oci.image.manifest.v1+json"));
  assert.ok(accepts(parseAccept(undefined), "anything"));
  assert.ok(accepts(parseAccept("text/plain, */*"), "anything"));
});
