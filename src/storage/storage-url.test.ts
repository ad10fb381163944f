import assert from "node:assert/strict";
import { it } from "node:test";
import { parseStorageUrl } from "./storage-url.js";

it("parses storage URLs", () => {
  assert.deepEqual(parseStorageUrl("fs:///var/lib/hub%20mirror"), {
    kind: "fs",
    root: "/var/lib/hub mirror",
  });
  assert.deepEqual(parseStorageUrl("memory://"), { kind: "memory" });
  assert.deepEqual(
    parseStorageUrl("s3://cache/hub/mirror/?endpoint=http://127.0.0.1:7480&region=default&path-style=true"),
    {
      kind: "s3",
      bucket: "cache",
      prefix: "hub/mirror",
      endpoint: "http://127.0.0.1:7480",
      region: "default",
      forcePathStyle: true,
    },
  );
  assert.deepEqual(parseStorageUrl("s3://my.bucket"), {
    kind: "s3",
    bucket: "my.bucket",
    prefix: "",
    endpoint: undefined,
    region: "us-east-1",
    forcePathStyle: false,
  });
  assert.equal(
    (parseStorageUrl("s3://b12?endpoint=https://minio:9000") as { forcePathStyle: boolean }).forcePathStyle,
    true,
  );
});

it("says what is wrong with a bad storage URL", () => {
  const bad: [string, RegExp][] = [
    ["/var/lib/x", /not a URL/],
    ["fs://relative/x", /absolute directory/],
    ["fs:///", /absolute directory/],
    ["ftp://x", /unknown storage scheme/],
    ["s3://B", /invalid bucket name/],
    ["s3://bucket?secret=x", /unknown s3 URL parameter "secret"/],
    ["s3://bucket?endpoint=127.0.0.1:9000", /endpoint must be/],
    ["s3://bucket?path-style=yes", /path-style must be/],
    ["s3://key:secret@bucket", /credentials/],
  ];
  for (const [url, message] of bad) assert.throws(() => parseStorageUrl(url), message, url);
});
