import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { sendFileRange } from "./send-range.js";

async function file(content: Buffer): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "hubmirror-send-")), "f");
  await writeFile(path, content);
  return path;
}

it("sends ranges of a file through reused buffers, one write in flight", async () => {
  const content = randomBytes(3 << 20);
  const path = await file(content);
  for (const [start, length] of [
    [0, content.length],
    [1000, 2_000_000],
    [content.length - 1, 1],
  ] as const) {
    const received: Buffer[] = [];
    let inflight = 0;
    let began = false;
    await sendFileRange(path, {
      start,
      length,
      begin: () => {
        began = true;
      },
      sink: async (chunk) => {
        assert.equal(++inflight, 1, "one write at a time");
        // Copy: the buffer is reused once this resolves.
        received.push(Buffer.from(chunk));
        await new Promise((ok) => setImmediate(ok));
        inflight--;
      },
    });
    assert.ok(began);
    assert.ok(Buffer.concat(received).equals(content.subarray(start, start + length)), `${start}+${length}`);
  }
});

it("stops when the sink fails, and reports a missing or short file before beginning", async () => {
  const path = await file(randomBytes(2 << 20));
  let calls = 0;
  const failing = {
    start: 0,
    length: 2 << 20,
    begin: () => {},
    sink: async () => {
      calls++;
      throw new Error("client gone");
    },
  };
  await assert.rejects(sendFileRange(path, failing), /client gone/);
  assert.ok(calls <= 2);
  let began = false;
  const begin = () => {
    began = true;
  };
  await assert.rejects(sendFileRange(`${path}.missing`, { ...failing, begin }), /ENOENT/);
  assert.equal(began, false);
  await assert.rejects(
    sendFileRange(path, { start: 0, length: 3 << 20, begin, sink: async () => {} }),
    /early/,
  );
});
