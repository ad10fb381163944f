import assert from "node:assert/strict";
import { it } from "node:test";
import type { RegistryError } from "../errors/oci-errors.js";
import { parseImageRef, referenceOf } from "./image-ref.js";

const D = `sha256:${"b".repeat(64)}`;

it("parses image references as Docker does", () => {
  assert.deepEqual(parseImageRef("ubuntu"), { name: "ubuntu", tag: undefined, digest: undefined });
  assert.deepEqual(parseImageRef("library/ubuntu:22.04"), {
    name: "library/ubuntu",
    tag: "22.04",
    digest: undefined,
  });
  assert.deepEqual(parseImageRef("localhost:5000/app"), {
    name: "localhost:5000/app",
    tag: undefined,
    digest: undefined,
  });
  assert.deepEqual(parseImageRef(`ghcr.io/o/app:v1@${D}`), { name: "ghcr.io/o/app", tag: "v1", digest: D });
  assert.equal(referenceOf(parseImageRef(`app:v1@${D}`)), D, "a digest wins over a tag");
  assert.equal(referenceOf(parseImageRef("app"), "latest"), "latest");
  assert.equal(referenceOf(parseImageRef("app")), undefined);
});

it("names the bad reference in its error", () => {
  for (const bad of [
    "",
    "app:",
    "app:bad tag",
    "app@sha256:xyz",
    ":v1",
    "app@md5:abc",
    "Ubuntu!",
    "ghcr.io/A/b",
  ]) {
    assert.throws(
      () => parseImageRef(bad),
      (err: RegistryError) => {
        assert.equal(err.code, "NAME_INVALID");
        assert.ok(err.message.includes(JSON.stringify(bad.trim())), err.message);
        return true;
      },
      bad,
    );
  }
});
