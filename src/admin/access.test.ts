import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, it } from "node:test";
import { RegistryError } from "../errors/oci-errors.js";
import { checkAdminAccess } from "./access.js";

const TOKEN = "0123456789abcdef-token";

function req(remoteAddress: string, authorization?: string): IncomingMessage {
  return { headers: authorization ? { authorization } : {}, socket: { remoteAddress } } as IncomingMessage;
}

/** The HTTP status the check answers with, or 200 when it lets the caller in. */
function status(r: IncomingMessage, token: string | undefined): number {
  try {
    checkAdminAccess(r, token);
    return 200;
  } catch (err) {
    assert.ok(err instanceof RegistryError);
    return err.status;
  }
}

describe("admin API access", () => {
  it("admits loopback callers (IPv4, IPv6, IPv4-mapped) without a token", () => {
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
      assert.equal(status(req(a), undefined), 200, a);
      assert.equal(status(req(a), TOKEN), 200, `${a}, a token configured but not presented`);
    }
  });

  it("refuses other hosts with 403 when no token is configured, even when they present one", () => {
    for (const a of ["10.203.0.1", "192.168.1.5", "::ffff:10.0.0.1", "fe80::1", "128.0.0.1", undefined]) {
      assert.equal(status(req(a as string), undefined), 403, String(a));
      assert.equal(status(req(a as string, `Bearer ${TOKEN}`), undefined), 401, `${a} with a token`);
    }
  });

  it("with admin.token, other hosts need it: missing or wrong is 401, right is admitted", () => {
    assert.equal(status(req("10.203.0.1"), TOKEN), 401);
    assert.equal(status(req("10.203.0.1", "Bearer wrong"), TOKEN), 401);
    assert.equal(status(req("10.203.0.1", `Bearer ${TOKEN}x`), TOKEN), 401);
    assert.equal(status(req("10.203.0.1", `Basic ${TOKEN}`), TOKEN), 401);
    assert.equal(status(req("10.203.0.1", `Bearer ${TOKEN}`), TOKEN), 200);
    const e = (() => {
      try {
        checkAdminAccess(req("10.203.0.1"), TOKEN);
      } catch (err) {
        return err as RegistryError;
      }
    })();
    assert.match(e?.headers["WWW-Authenticate"] ?? "", /^Bearer realm=/);
  });

  it("refuses a loopback caller presenting a wrong token: a mistake should show", () => {
    assert.equal(status(req("127.0.0.1", "Bearer wrong"), TOKEN), 401);
    assert.equal(status(req("127.0.0.1", `Bearer ${TOKEN}`), TOKEN), 200);
  });
});
