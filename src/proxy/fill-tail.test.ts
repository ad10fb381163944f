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

it("serves every byte, from memory near the head and from the file behind it", {
  timeout: 20_000,
}, async () => {
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

it("holds back the download while the disk is behind; a failed write makes it a pass-through", {
  timeout: 20_000,
}, async () => {
  const { w, r } = await tempFile();
  let release!: () => void;
  const gate = new Promise<void>((ok) => {
    release = ok;
  });
  let fail = false;
  const stops: Error[] = [];
  const tail = new FillTail(
    async () => {
      await gate;
      if (fail) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    },
    r,
    (why) => stops.push(why),
  );
  let waited: Promise<void> | undefined;
  for (let i = 0; i < 20 && !waited; i++) waited = tail.append(Buffer.alloc(1 << 20)) ?? undefined;
  assert.ok(waited, "append asks the caller to wait once too much is unwritten");
  fail = true;
  release();
  await tail.drain();
  assert.match(tail.stopped?.message ?? "", /no space/);
  assert.equal(stops.length, 1, "told once");
  assert.equal(tail.written, 0);
  // Nothing is dropped while no reader follows: the download waits for one.
  assert.ok(tail.append(Buffer.alloc(1)), "still held back, not failed");
  await w.close();
  await r.close();
});

it("a pass-through keeps each byte until every reader has it, and turns away late readers", {
  timeout: 20_000,
}, async () => {
  const { w, r } = await tempFile();
  const data = randomBytes(24 << 20);
  const chunk = 256 << 10;
  const tail = new FillTail(async (batch, offset) => {
    // The disk fills up after 4 MiB.
    if (offset >= 4 << 20) throw Object.assign(new Error("disk full"), { code: "ENOSPC" });
    await w.writev(batch, offset);
  }, r);
  const slow = tail.attach(0);
  const fast = tail.attach(0);
  assert.ok(slow && fast);
  const pair = new BufferPair();
  /** Reads [cursor.pos, to) and checks every byte. */
  const readTo = async (cursor: typeof slow, to: number) => {
    while (cursor.pos < Math.min(to, tail.received)) {
      const got = await tail.read(cursor.pos, Math.min(1 << 20, to - cursor.pos), pair);
      assert.ok(got.equals(data.subarray(cursor.pos, cursor.pos + got.length)), `bytes at ${cursor.pos}`);
      tail.advance(cursor, cursor.pos + got.length);
    }
  };
  let pos = 0;
  let held: Promise<void> | undefined;
  while (pos < data.length && !held) {
    held = tail.append(data.subarray(pos, pos + chunk)) ?? undefined;
    pos += chunk;
    await tail.drain();
  }
  assert.ok(tail.stopped, "writing stopped at the full disk");
  assert.ok(held, "the download waits for the slowest reader");
  assert.ok(pos < 16 << 20, `held back after ${pos} bytes`);
  await readTo(fast, pos);
  let resumed = false;
  void held.then(() => {
    resumed = true;
  });
  await Promise.resolve();
  assert.equal(resumed, false, "the fast reader alone does not release it");
  await readTo(slow, pos);
  await held;
  // A reader from the start would need bytes both readers had and nobody kept.
  assert.equal(tail.attach(0), undefined, "too late to follow");
  while (pos < data.length) {
    const wait = tail.append(data.subarray(pos, pos + chunk));
    pos += chunk;
    await readTo(fast, pos);
    await readTo(slow, pos);
    await wait;
  }
  assert.equal(slow.pos, data.length);
  assert.equal(fast.pos, data.length);
  tail.detach(slow);
  tail.detach(fast);
  await w.close();
  await r.close();
});

it("a pass-through drops at once what no reader wants: a reader further on never stalls it", {
  timeout: 20_000,
}, async () => {
  const data = randomBytes(24 << 20);
  const tail = new FillTail(async () => {}, undefined);
  tail.stop(new Error("not kept"));
  const ahead = tail.attach(20 << 20);
  assert.ok(ahead);
  for (let pos = 0; pos < 20 << 20; pos += 1 << 20) {
    assert.equal(tail.append(data.subarray(pos, pos + (1 << 20))), undefined, `not held at ${pos}`);
  }
  tail.append(data.subarray(20 << 20));
  const got = await tail.read(ahead.pos, 1 << 20, new BufferPair());
  assert.ok(got.equals(data.subarray(20 << 20, 21 << 20)));
  tail.detach(ahead);
});

it("a pass-through held for want of a reader goes on when one comes, even further on", {
  timeout: 20_000,
}, async () => {
  const tail = new FillTail(async () => {}, undefined);
  tail.stop(new Error("not kept"));
  let held: Promise<void> | undefined;
  for (let i = 0; i < 16 && !held; i++) held = tail.append(Buffer.alloc(1 << 20)) ?? undefined;
  assert.ok(held, "nothing is dropped while no reader follows: the download waits");
  const ahead = tail.attach(20 << 20);
  assert.ok(ahead);
  await held;
  tail.detach(ahead);
});
