import assert from "node:assert/strict";
import { it } from "node:test";
import { RegistryError } from "../errors/oci-errors.js";
import { parseManifestJson, parseUpstreamJson, TagList, TokenResponse } from "./upstream-json.js";

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

it("reads a manifest's fields and keeps the ones it doesn't know", () => {
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ digest: "sha256:a", mediaType: "m", platform: { os: "linux", architecture: "arm64" } }],
  };
  assert.deepEqual(parseManifestJson(json(index)), index);
  assert.equal(parseManifestJson(json({ schemaVersion: 2 })).mediaType, undefined);
});

it("refuses what is not a manifest with UPSTREAM_ERROR", () => {
  for (const body of [Buffer.from("{nope"), json([1]), json({ mediaType: 7 }), json({ layers: [{}] })]) {
    assert.throws(
      () => parseManifestJson(body),
      (err) => err instanceof RegistryError && err.code === "UPSTREAM_ERROR",
      body.toString(),
    );
  }
});

it("takes a token under either name, and none without one", () => {
  assert.deepEqual(parseUpstreamJson(TokenResponse, json({ access_token: "t", expires_in: 60 }), "token"), {
    token: "t",
    expiresIn: 60,
  });
  assert.throws(() => parseUpstreamJson(TokenResponse, json({ expires_in: 60 }), "token"), /no token/);
  assert.throws(() => parseUpstreamJson(TokenResponse, json({ token: "t", expires_in: "60" }), "token"));
});

it("checks a tag list", () => {
  assert.deepEqual(parseUpstreamJson(TagList, json({ name: "a", tags: null }), "tags").tags, null);
  assert.throws(() => parseUpstreamJson(TagList, json({ name: "a", tags: [1] }), "tags"), RegistryError);
});
