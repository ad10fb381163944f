import assert from "node:assert/strict";
import { it } from "node:test";
import { parseChallenge } from "./token-auth.js";

it("parses Docker Hub's bearer challenge, quoted commas included", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"',
    ),
    { scheme: "bearer", realm: "https://auth.docker.io/token", service: "registry.docker.io" },
  );
  assert.deepEqual(parseChallenge('basic realm="Registry"'), {
    scheme: "basic",
    realm: "Registry",
    service: undefined,
  });
  assert.deepEqual(parseChallenge("Bearer realm=http://127.0.0.1:1/token, service=x"), {
    scheme: "bearer",
    realm: "http://127.0.0.1:1/token",
    service: "x",
  });
  assert.equal(parseChallenge(undefined), undefined);
  assert.equal(parseChallenge("Negotiate abc"), undefined);
});
