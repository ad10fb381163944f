// Slowloris against hubmirror (a child process in front of the real upstream: Distribution behind a token server):
// 300 connections from ten addresses trickle a request head one byte at a time, and every one cut is replaced, so
// the attack holds for the whole measurement. Each must be cut at the header timeout with a 408; meanwhile plain
// HTTP pulls (manifest, then every blob, each on a new connection, digests checked) must get their first byte
// within twice the time they took on the idle server (medians, robust on a loaded 2-core machine).
//   bash test/netns-run.sh node --import tsx --test test/e2e/slowloris.test.ts
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { get, RawConnection } from "../fakes/raw-client.js";
import type { TestImage } from "../fixtures/images.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type Hub, startHub } from "./stack.js";

const HEADER_TIMEOUT_MS = 2000;
const ATTACKERS = 300;
const ADDRESSES = 10;
const TRICKLE_MS = 500;
const PULLS = 15;
const ACCEPT =
  "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

let hub: Hub;
let mirror: TempMirrorProcess;

before(async () => {
  hub = await startHub();
  mirror = await startMirrorProcess(hub.registry.url, {
    limits: { headerTimeout: `${HEADER_TIMEOUT_MS}ms` },
  });
});
after(async () => {
  await mirror?.stop();
  await hub?.stop();
});

/** One GET on a new connection: time to the response head, and the body's digest. */
function fetchTimed(path: string): Promise<{ status: number; ttfb: number; digest: string; body: Buffer }> {
  const url = new URL(path, mirror.process.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { agent: false, headers: { accept: ACCEPT } }, (res) => {
      const ttfb = performance.now() - started;
      const hash = createHash("sha256");
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        hash.update(c);
        chunks.push(c);
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          ttfb,
          digest: `sha256:${hash.digest("hex")}`,
          body: Buffer.concat(chunks),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Pulls `img` by tag over plain HTTP, checking every digest; returns each request's time to first byte. */
async function pull(img: TestImage): Promise<number[]> {
  const m = await fetchTimed(`/v2/${img.repo}/manifests/${img.tag}`);
  assert.equal(m.status, 200);
  assert.equal(m.digest, img.manifest.digest);
  const ttfbs = [m.ttfb];
  for (const blob of img.blobs) {
    const b = await fetchTimed(`/v2/${img.repo}/blobs/${blob.digest}`);
    assert.equal(b.status, 200);
    assert.equal(b.digest, blob.digest);
    ttfbs.push(b.ttfb);
  }
  return ttfbs;
}

async function pulls(img: TestImage): Promise<number[]> {
  const ttfbs: number[] = [];
  for (let i = 0; i < PULLS; i++) {
    ttfbs.push(...(await pull(img)));
    await sleep(100);
  }
  return ttfbs;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const round = (ms: number) => Math.round(ms * 100) / 100;

/** Keeps ATTACKERS slow connections open until stopped, replacing each one cut; records how each one ended. */
class Slowloris {
  readonly ended: { status: number; ms: number }[] = [];
  private running = true;
  private readonly live = new Set<Promise<void>>();

  start(): void {
    for (let i = 0; i < ATTACKERS; i++) this.spawn(`127.0.0.${2 + (i % ADDRESSES)}`);
  }

  /** Open connections (connected, not yet cut). */
  get open(): number {
    return this.live.size;
  }

  private spawn(address: string): void {
    const run = (async () => {
      const c = await RawConnection.open(mirror.process.url, address);
      c.send("G");
      c.trickle(get("/v2/", "X-Padding: 1\r\n".repeat(100)).slice(1), TRICKLE_MS);
      const closed = await c.closed;
      this.ended.push({ status: closed.status, ms: closed.ms });
    })();
    this.live.add(run);
    run.finally(() => {
      this.live.delete(run);
      if (this.running) this.spawn(address);
    });
  }

  /** Stops replacing cut connections; resolves once every open one is cut. */
  async stop(): Promise<void> {
    this.running = false;
    while (this.live.size > 0) await Promise.allSettled([...this.live]);
  }
}

test("slowloris: every slow head is cut at the header timeout, pulls keep their time to first byte", {
  timeout: 55_000,
}, async (t) => {
  const img = hub.catalogue["docker-v2"];
  // Warm: the cache (from here on, time to first byte is the mirror's own) and the code paths.
  for (let i = 0; i < 5; i++) await pull(img);
  const idle = await pulls(img);

  const attack = new Slowloris();
  const started = performance.now();
  attack.start();
  while (attack.open < ATTACKERS) await sleep(10);
  const loaded = await pulls(img);
  // Long enough for several waves of cuts.
  while (performance.now() - started < 3 * HEADER_TIMEOUT_MS) await sleep(100);
  await attack.stop();
  const attackMs = performance.now() - started;

  const cutAt = attack.ended.map((e) => e.ms);
  const figures = {
    attackers: ATTACKERS,
    attackSeconds: round(attackMs / 1000),
    connectionsCut: attack.ended.length,
    with408: attack.ended.filter((e) => e.status === 408).length,
    cutAfterMs: {
      min: round(Math.min(...cutAt)),
      median: round(median(cutAt)),
      max: round(Math.max(...cutAt)),
    },
    ttfbMs: {
      idleMedian: round(median(idle)),
      underAttackMedian: round(median(loaded)),
      requests: idle.length,
    },
    metric: await mirror.process.metric("hubmirror_limit_exceeded_total", { limit: "headerTimeout" }),
  };
  t.diagnostic(JSON.stringify(figures));

  assert.ok(attack.ended.length >= 2 * ATTACKERS, "several waves were cut");
  assert.equal(figures.with408, attack.ended.length, "every slow connection got a 408");
  assert.equal(figures.metric, attack.ended.length, "each cut counted once");
  assert.ok(figures.cutAfterMs.min >= HEADER_TIMEOUT_MS - 50, "none cut before the header timeout");
  // Node checks the timeout every quarter of it (at most a second): cut within that, plus slack for a busy machine.
  assert.ok(figures.cutAfterMs.max < HEADER_TIMEOUT_MS * 1.25 + 1000, "each cut at the header timeout");
  assert.ok(
    figures.ttfbMs.underAttackMedian <= 2 * figures.ttfbMs.idleMedian,
    `time to first byte under attack ${figures.ttfbMs.underAttackMedian} ms, idle ${figures.ttfbMs.idleMedian} ms`,
  );
});
