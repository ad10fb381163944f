import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { sendFile } from "./send-file.js";

it("sends ranges of a file, and survives a client that leaves mid-way", async () => {
  const file = join(await mkdtemp(join(tmpdir(), "hubmirror-send-")), "f");
  const content = randomBytes(5 << 20);
  await writeFile(file, content);
  const outcomes: string[] = [];
  const server = createServer((req, res) => {
    const [start, length] = (req.url ?? "").slice(1).split("-").map(Number) as [number, number];
    let sent = 0;
    sendFile(
      res,
      file,
      { start, length },
      () => res.writeHead(200, { "Content-Length": length }),
      (n) => {
        sent += n;
      },
    ).then(
      () => outcomes.push(`ok ${sent}`),
      () => outcomes.push("aborted"),
    );
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const whole = Buffer.from(await (await fetch(`${base}/0-${content.length}`)).arrayBuffer());
  assert.ok(whole.equals(content));
  const part = Buffer.from(await (await fetch(`${base}/1000-3000000`)).arrayBuffer());
  assert.ok(part.equals(content.subarray(1000, 3001000)));
  const controller = new AbortController();
  const res = await fetch(`${base}/0-${content.length}`, { signal: controller.signal });
  await res.body?.getReader().read();
  controller.abort();
  await new Promise((ok) => setTimeout(ok, 200));
  assert.deepEqual(outcomes, [`ok ${content.length}`, "ok 3000000", "aborted"]);
  server.close();
});
