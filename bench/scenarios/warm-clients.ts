// (4) Many clients at once on a cached blob: aggregate MiB/s (all bytes / wall time until the last body ends).
// Clients run on worker threads (clients.ts); bodies are length-checked, not hashed.
import type { TestImage } from "../../test/fixtures/images.js";
import { concurrentGets } from "../clients.js";
import { getOk } from "../http.js";
import { alternate, median, mibPerS } from "../measure.js";
import { blobOf, type Ctx, perMirror, row, type ScenarioResult, sizeLabel } from "./common.js";

export async function warmClients(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts } = ctx;
  const blob = blobOf(env.herd[0] as TestImage);
  for (const m of env.mirrors) await getOk(m.url + blob.path, { length: blob.size }); // cached, page cache warm
  const rows = [];
  const details: Record<string, unknown> = {};
  for (const n of opts.warmClients) {
    const samples = await alternate(opts.rounds, env.mirrors, async (mirror, round) => {
      await ctx.quiet();
      ctx.log(`${n} warm clients on ${sizeLabel(blob.size)} via ${mirror.name} (round ${round + 1})`);
      const { wallMs, outcomes } = await concurrentGets(mirror.url + blob.path, n);
      const bad = outcomes.find((o) => !o.ok || o.status !== 200 || o.bytes !== blob.size);
      if (bad)
        throw new Error(`${mirror.name}: a client got ${bad.error ?? `${bad.status}, ${bad.bytes} bytes`}`);
      return mibPerS(n * blob.size, wallMs);
    });
    rows.push(
      row(
        `warm${n}.mibs`,
        `${n} warm clients on ${sizeLabel(blob.size)}: aggregate`,
        "MiB/s",
        "higher",
        perMirror(samples, median),
      ),
    );
    details[String(n)] = Object.fromEntries(samples);
  }
  return { rows, details };
}
