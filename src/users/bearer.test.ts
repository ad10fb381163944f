import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { it } from "node:test";
import { BearerTokens } from "./bearer.js";

const claims = { tokenId: 7, userId: 3 };

it("issues tokens that verify until they expire", () => {
  const tokens = new BearerTokens(randomBytes(32), 300_000);
  const now = Date.parse("2025-01-01T00:00:00Z");
  const issued = tokens.issue(claims, now);
  assert.equal(issued.expiresIn, 300);
  assert.equal(issued.issuedAt, "2025-01-01T00:00:00.000Z");
  assert.match(issued.token, /^hm1\.[\w-]+\.[\w-]+$/);
  assert.deepEqual(tokens.verify(issued.token, now), claims);
  assert.deepEqual(tokens.verify(issued.token, now + 299_000), claims);
  assert.equal(tokens.verify(issued.token, now + 300_000), undefined, "expired");
});

it("refuses tokens another key signed, or whose claims were changed", () => {
  const key = randomBytes(32);
  const tokens = new BearerTokens(key, 60_000);
  const { token } = tokens.issue(claims);
  assert.equal(new BearerTokens(randomBytes(32), 60_000).verify(token), undefined);
  const [prefix, payload, sig] = token.split(".") as [string, string, string];
  const forged = Buffer.from(JSON.stringify({ t: 8, u: 3, exp: 9_999_999_999 })).toString("base64url");
  assert.equal(tokens.verify(`${prefix}.${forged}.${sig}`), undefined);
  assert.equal(tokens.verify(`${prefix}.${payload}.${sig.slice(0, -2)}AA`), undefined);
  assert.equal(tokens.verify(`${prefix}.${payload}`), undefined);
  assert.equal(tokens.verify("not-a-token"), undefined);
  assert.equal(tokens.verify(`${prefix}.${payload}.${sig}`)?.tokenId, 7);
});
