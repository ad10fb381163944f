import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { useHubAndMirror } from "../fakes/mirror.js";
import { get, RawConnection } from "../fakes/raw-client.js";
import { eventually } from "../helpers.js";

const code = (body: string): string => JSON.parse(body).errors[0].code;

describe("limits on sockets", () => {
  const env = useHubAndMirror({
    limits: {
      headerTimeout: "1s",
      idleTimeout: "3s",
      maxHeaderSize: "16KiB",
      maxConnections: 6,
      maxConnectionsPerIp: 3,
    },
  });
  const exceeded = (limit: string) => env.mirror.metrics.value("hubmirror_limit_exceeded_total", { limit });

  it("cuts a request head that trickles in, or never comes, at the header timeout with 408", {
    timeout: 20_000,
  }, async () => {
    const slow = await RawConnection.open(env.mirror.url);
    slow.trickle(get("/v2/", "X-Slow: 1\r\n".repeat(50)), 100);
    const silent = await RawConnection.open(env.mirror.url);
    for (const c of [await slow.closed, await silent.closed]) {
      assert.equal(c.status, 408);
      assert.equal(code(c.body), "REQUEST_TIMEOUT");
      assert.ok(c.ms >= 950 && c.ms < 2500, `cut after ${Math.round(c.ms)} ms`);
    }
    assert.equal(await exceeded("headerTimeout"), 2);
  });

  it("lets an answer under way finish before the 408 of a pipelined request head that is too slow", {
    timeout: 20_000,
  }, async () => {
    const content = randomBytes(4 << 20);
    const digest = env.hub.addBlob(content);
    env.hub.throttle = 2 << 20;
    const c = await RawConnection.open(env.mirror.url);
    c.send(`${get(`/v2/library/pipelined/blobs/${digest}`)}GET /v2/ HTTP/1.1\r\n`);
    const closed = await c.closed;
    env.hub.throttle = 0;
    assert.equal(closed.status, 200);
    // The blob whole and untouched, then the 408 as a response of its own.
    const body = Buffer.from(closed.body, "latin1");
    assert.ok(body.subarray(0, content.length).equals(content), "the blob arrives whole");
    assert.match(body.subarray(content.length).toString(), /^HTTP\/1\.1 408 [\s\S]*"REQUEST_TIMEOUT"/);
    assert.ok(closed.ms >= 950, "at the header timeout");
  });

  it("does not count an idle keep-alive connection against the header timeout, and closes it when idle", {
    timeout: 20_000,
  }, async () => {
    const c = await RawConnection.open(env.mirror.url);
    c.send(get("/v2/"));
    await eventually("the first answer", async () => c.received.includes("\r\n\r\n{}"));
    await sleep(1500);
    c.send(get("/v2/"));
    await eventually("the second answer", async () => c.received.split("HTTP/1.1 200").length === 3);
    const idleFrom = performance.now();
    const closed = await c.closed;
    // Node closes a keep-alive connection a second after the timeout it advertises.
    const idle = closed.ms - (idleFrom - c.started);
    assert.ok(idle >= 2900 && idle < 5500, `closed after ${Math.round(idle)} ms idle`);
    assert.match(closed.text, /Keep-Alive: timeout=3/);
    assert.equal(await exceeded("idleTimeout"), 1);
  });

  it("answers a request head over maxHeaderSize with 431, and takes one under it", {
    timeout: 20_000,
  }, async () => {
    const big = await RawConnection.open(env.mirror.url);
    big.send(get("/v2/", `X-Big: ${"a".repeat(20 * 1024)}\r\n`));
    const cut = await big.closed;
    assert.equal(cut.status, 431);
    assert.equal(code(cut.body), "HEADERS_TOO_LARGE");
    assert.equal(await exceeded("maxHeaderSize"), 1);
    const fits = await RawConnection.open(env.mirror.url);
    fits.send(get("/v2/", `X-Big: ${"a".repeat(12 * 1024)}\r\nConnection: close\r\n`));
    assert.equal((await fits.closed).status, 200);
  });

  it("refuses connections over the per-address cap with 429 and over the overall cap with 503", {
    timeout: 20_000,
  }, async () => {
    const open = async (ip: string, n: number) => {
      const conns: RawConnection[] = [];
      for (let i = 0; i < n; i++) conns.push(await RawConnection.open(env.mirror.url, ip));
      return conns;
    };
    const first = await open("127.0.0.11", 3);
    const [extra] = await open("127.0.0.11", 1);
    extra?.send(get("/v2/"));
    const refused = await (extra as RawConnection).closed;
    assert.equal(refused.status, 429);
    assert.equal(code(refused.body), "TOOMANYREQUESTS");
    assert.match(refused.text, /Retry-After: 5/);
    assert.ok(refused.ms < 1000, "refused at once");

    const second = await open("127.0.0.12", 3);
    const [over] = await open("127.0.0.13", 1);
    const full = await (over as RawConnection).closed;
    assert.equal(full.status, 503);
    assert.equal(code(full.body), "UNAVAILABLE");
    assert.match(full.text, /Retry-After: 5/);

    // The admitted ones are served, and a closed one frees its place.
    first[0]?.send(get("/v2/", "Connection: close\r\n"));
    assert.equal((await (first[0] as RawConnection).closed).status, 200);
    let retries = 0;
    await eventually("a place for 127.0.0.11 again", async () => {
      const [again] = await open("127.0.0.11", 1);
      again?.send(get("/v2/", "Connection: close\r\n"));
      const status = (await (again as RawConnection).closed).status;
      if (status === 429) retries++;
      return status === 200;
    });

    assert.equal(await exceeded("maxConnectionsPerIp"), 1 + retries);
    assert.equal(await exceeded("maxConnections"), 1);
    for (const c of [...first, ...second]) c.close();
  });
});
