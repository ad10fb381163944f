import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";

interface RequestLine {
  method: string;
  path: string;
  status: number;
  bytes: number;
  cache?: string;
}

describe("access log", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  const lines: RequestLine[] = [];
  before(async () => {
    hub = await new FakeHub().start();
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    mirror = await startInProcessMirror(hub.url, {}, undefined, log);
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });

  /** The request's log line: written once its response has closed, which may be just after the client is done. */
  async function lineFor(method: string, path: string): Promise<RequestLine> {
    for (let i = 0; i < 100; i++) {
      const line = lines.find((l) => l.method === method && l.path === path);
      if (line) return line;
      await sleep(10);
    }
    throw new Error(`no log line for ${method} ${path}`);
  }

  async function fetched(path: string, method: "GET" | "HEAD" = "GET") {
    const res = await mirror.get(path, { accept: DOCKER }, method);
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, body, line: await lineFor(method, path) };
  }

  it("logs the body bytes actually sent, on every route", async () => {
    hub.addManifest("library/logged", { schemaVersion: 2, mediaType: DOCKER, n: 1 }, DOCKER, "v1");
    const blob = hub.addBlob(Buffer.alloc(3000, 7));
    for (const path of [
      "/v2/",
      "/v2/library/logged/manifests/v1",
      `/v2/library/logged/blobs/${blob}`,
      "/v2/library/logged/tags/list",
      "/v2/_catalog",
      "/v2/Bad/manifests/v1",
      "/healthz",
    ]) {
      const { status, body, line } = await fetched(path);
      assert.ok(body.length > 0, path);
      assert.equal(line.bytes, body.length, path);
      assert.equal(line.status, status, path);
    }
    const head = await fetched("/v2/library/logged/manifests/v1", "HEAD");
    assert.equal(head.line.bytes, 0);
    assert.equal(head.line.cache, "hit");
  });
});
