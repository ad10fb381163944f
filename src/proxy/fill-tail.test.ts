import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { BufferPair } from "../store/send-range.js";
import { FillTail } from "./fill-tail.js";

async function tempFile() {
  const path = join(await mkdtemp(join(tmpdir(), "hubmirror-tail-")), "f");
  const w = await open(path, "w");
  const r = await open(path, "r");
  return { w, r };
}

it("serves every byte, from memory near the head and from the file behind it", async () => {
  const { w, r } = await tempFile();
  let writes = 0;
  const tail = new FillTail(async (batch, offset) => {
    writes++;
    await w.writev(batch, offset);
  }, r);
  const data = randomBytes(40 << 20);
  for (let i = 0; i < data.length; i += 64 << 10) await tail.append(data.subarray(i, i + (64 << 10)));
  await tail.drain();
  assert.equal(tail.written, data.length);
  assert.ok(writes < 640 / 2, `writes are batched (${writes} for 640 chunks)`);
  for (const pos of [0, 12345, 20 << 20, data.length - 100]) {
    const got = await tail.read(pos, 1 << 20, new BufferPair());
    assert.ok(got.length > 0);
    assert.ok(got.equals(data.subarray(pos, pos + got.length)), `bytes at ${pos}`);
  }
  await w.close();
  await r.close();
});

it("holds back the download while the disk is behind, and surfaces a write error", async () => {
  const { r } = await tempFile();
  let release!: () => void;
  const gate = new Promise<void>((ok) => {
    release = ok;
  });
  let fail = false;
  const tail = new FillTail(async () => {
    await gate;
    if (fail) throw new Error("disk full");
  }, r);
  let waited: Promise<void> | undefined;
  for (let i = 0; i < 20 && !waited; i++) waited = tail.append(Buffer.alloc(1 << 20)) ?? undefined;
  assert.ok(waited, "append asks the caller to wait once too much is unwritten");
  fail = true;
  release();
  await waited;
  await assert.rejects(tail.drain(), /disk full/);
  assert.throws(() => tail.append(Buffer.alloc(1)), /disk full/);
  await r.close();
});
