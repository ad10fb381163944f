import assert from "node:assert/strict";
import { it } from "node:test";
import { scrubSecrets } from "./redact.js";

const S = "s3cr3t-VALUE_1";
const line = (o: unknown) => JSON.stringify(o);

it("redacts credentials in fields at any depth and inside strings", () => {
  for (const input of [
    line({ authorization: `Bearer ${S}` }),
    line({ Authorization: S }),
    line({ req: { headers: { "proxy-authorization": `Basic ${S}`, cookie: `a=${S}` } } }),
    line({ err: { response: { headers: { "set-cookie": [`a=${S}`, `b="${S}"`] } } } }),
    line({ a: { b: { c: { d: { password: S } } } } }),
    line({ token: S, n: 1 }),
    line({ msg: `upstream said Bearer ${S}` }),
    line({ msg: `Basic ${S}, then more` }),
    line({ path: `/v2/x/manifests/v1?n=1&token=${S}` }),
    line({ url: `https://cdn.example/blob?X-Amz-Signature=${S}&X-Amz-Expires=60` }),
    line({ url: `https://cdn.example/blob?verify=${S}` }),
    line({ url: `https://user:${S}@registry.example/v2/` }),
    line({ err: { message: `bad body {"access_token":"${S}"}` } }),
  ]) {
    const out = scrubSecrets(input);
    assert.ok(!out.includes(S), out);
    assert.ok(out.includes("[redacted]"), out);
    JSON.parse(out);
  }
});

it("leaves lines without credentials as they are", () => {
  for (const input of [
    line({ msg: "request", path: `/v2/library/ubuntu/blobs/sha256:${"a".repeat(64)}`, status: 200 }),
    line({ path: "/v2/x/tags/list?n=10&last=v1", tokenish: "ok", keys: 3 }),
    line({ msg: "upstream token fetched", scope: "repository:library/x:pull", lifetime: 300000 }),
    line({ challenge: 'Bearer realm="https://auth.example/token",service="x"' }),
  ]) {
    assert.equal(scrubSecrets(input), input);
  }
  // Only the value goes: what was redacted, and where, stays readable.
  assert.equal(
    scrubSecrets(line({ path: `/x?n=1&token=${S}&m=2`, authorization: S })),
    line({ path: "/x?n=1&token=[redacted]&m=2", authorization: "[redacted]" }),
  );
});
