import assert from "node:assert/strict";
import { randomBytes, scryptSync } from "node:crypto";
import { it } from "node:test";
import { checkPassword, hashPassword, needsRehash, verifyPassword } from "./passwords.js";

it("hashes passwords with scrypt, a per-user salt and the parameters stored", async () => {
  const a = await hashPassword("correct horse");
  const b = await hashPassword("correct horse");
  assert.match(a, /^scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.notEqual(a, b, "a fresh salt each time");
  assert.ok(!a.includes("correct horse"));
  assert.equal(await verifyPassword("correct horse", a), true);
  assert.equal(await verifyPassword("correct horse", b), true);
  assert.equal(await verifyPassword("correct horsE", a), false);
  assert.equal(await verifyPassword("", a), false);
  assert.equal(needsRehash(a), false);
});

it("verifies hashes made with other parameters, and asks for a re-hash", async () => {
  const salt = randomBytes(16);
  const key = scryptSync("old password", salt, 32, { N: 2 ** 12, r: 8, p: 1 });
  const old = `scrypt$ln=12,r=8,p=1$${salt.toString("base64")}$${key.toString("base64")}`;
  assert.equal(await verifyPassword("old password", old), true);
  assert.equal(await verifyPassword("new password", old), false);
  assert.equal(needsRehash(old), true);
});

it("refuses malformed hashes and parameters out of range rather than running them", async () => {
  assert.equal(await verifyPassword("x", "plain"), false);
  assert.equal(await verifyPassword("x", "scrypt$ln=40,r=8,p=1$AAAA$AAAA"), false);
  assert.equal(await verifyPassword("x", "md5$abc"), false);
});

it("checks password length, naming the rule", () => {
  assert.throws(() => checkPassword("short"), /8 to 1024 characters/);
  assert.throws(() => checkPassword(12345678), /8 to 1024 characters/);
  assert.throws(() => checkPassword("x".repeat(1025)), /8 to 1024/);
  assert.equal(checkPassword("long enough"), "long enough");
});
