// The console's overview against real data, /api/stats not stubbed: the real upstream (Distribution behind a
// Docker-Hub-style token server), hubmirror as a child process, a cold then a warm pull by skopeo. The tiles must
// show exactly those pulls, the bytes skopeo received (the files it wrote) and the hit ratio, as /api/stats does.
// With UPDATE_DOCS_SCREENSHOT=1 the overview's screenshot also becomes the README's (docs/console-overview.png).
//   bash test/netns-run.sh node --import tsx --test test/console/real-data.test.ts
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StatsReport } from "../../src/stats/stats.js";
import { buildConsole } from "../../web/build.js";
import { formatBytes, formatCount, formatRatio } from "../../web/src/format.js";
import { Skopeo } from "../clients/skopeo.js";
import { type Hub, startHub } from "../e2e/stack.js";
import { eventually } from "../helpers.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { screenshot, useBrowser, watchedPage } from "./browser.js";

/** The bytes skopeo received for a single-platform image: every file of its `dir:` copy but the `version` stamp. */
async function received(dir: string): Promise<{ bytes: number; blobs: number }> {
  const files = (await readdir(dir)).filter((f) => f !== "version");
  let bytes = 0;
  for (const f of files) bytes += (await stat(join(dir, f))).size;
  return { bytes, blobs: files.filter((f) => f !== "manifest.json").length };
}

describe("console overview after real pulls", { timeout: 180_000 }, () => {
  const chrome = useBrowser();
  let hub: Hub;
  let mirror: TempMirrorProcess;
  let skopeo: Skopeo;

  before(
    async () => {
      await buildConsole();
      hub = await startHub();
      mirror = await startMirrorProcess(hub.registry.url);
      skopeo = await Skopeo.create({ mirrorUrl: mirror.process.url });
    },
    { timeout: 60_000 },
  );
  after(async () => {
    await skopeo?.stop();
    await mirror?.stop();
    await hub?.stop();
  });

  async function totals(): Promise<StatsReport["totals"]> {
    const res = await fetch(`${mirror.process.url}/api/stats?range=24h`);
    assert.equal(res.status, 200);
    return ((await res.json()) as StatsReport).totals;
  }

  it("shows the pulls, the bytes served and the hit ratio of a cold then a warm skopeo pull", async () => {
    const img = hub.catalogue["docker-v2"];
    const ref = `docker.io/${img.repo}:latest`;
    const got: { bytes: number; blobs: number }[] = [];
    for (const n of ["cold", "warm"]) {
      const dir = join(skopeo.dir, n);
      assert.equal(await skopeo.copyViaMirror(ref, dir), img.manifest.digest);
      got.push(await received(dir));
      await mirror.process.settled();
    }
    assert.deepEqual(got[0], got[1], "both pulls got the same");
    const once = got[0] as { bytes: number; blobs: number };
    const served = 2 * once.bytes;
    const requests = 1 + once.blobs;

    // A client may read the last byte before the mirror records the response's end.
    let t = await totals();
    await eventually("both pulls recorded", async () => {
      t = await totals();
      return t.pulls === 2 && t.servedBytes === served;
    }).catch(() => {});
    assert.deepEqual(
      [t.pulls, t.manifestRequests, t.blobRequests, t.servedBytes, t.upstreamBytes, t.savedBytes],
      [2, 2, 2 * once.blobs, served, once.bytes, once.bytes],
    );
    assert.deepEqual([t.hits, t.misses, t.hitRatio], [requests, requests, 0.5]);

    const w = await watchedPage(chrome.browser);
    await w.page.setViewportSize({ width: 1280, height: 800 });
    await w.page.goto(`${mirror.process.url}/#/`);
    const tile = async (id: string) => {
      const el = w.page.locator(`[data-tile="${id}"]`);
      await el.locator(".value").filter({ hasNotText: "—" }).waitFor();
      return [await el.locator(".value").textContent(), await el.locator(".detail").textContent()];
    };
    assert.deepEqual(await tile("pulls"), [
      "2",
      `2 manifest and ${formatCount(2 * once.blobs)} blob requests`,
    ]);
    assert.deepEqual(await tile("served"), [formatBytes(served), "to clients"]);
    assert.deepEqual(await tile("upstream"), [formatBytes(once.bytes), "downloaded to fill the cache"]);
    assert.deepEqual(await tile("saved"), [formatBytes(once.bytes), "50.0% of the bytes served"]);
    assert.deepEqual(await tile("hit-ratio"), ["50.0%", `${requests} hits, ${requests} misses`]);
    assert.equal(formatRatio(t.hitRatio), "50.0%");
    await screenshot(w.page, "real-overview");
    // The README's picture: refreshed on request only, so a test run leaves the worktree clean.
    if (process.env.UPDATE_DOCS_SCREENSHOT) await w.page.screenshot({ path: "docs/console-overview.png" });

    // Top images: the pulled repository with its two pulls and the bytes served.
    await w.page.goto(`${mirror.process.url}/#/activity`);
    const top = w.page.locator('[data-section="by-pulls"] tbody tr', { hasText: img.repo });
    await top.waitFor();
    assert.match((await top.textContent()) ?? "", new RegExp(`${img.repo}.*2.*${formatBytes(served)}`));
    await screenshot(w.page, "real-activity");
    await w.context.close();
    assert.deepEqual(w.problems, [], "no console errors, page errors or CSP violations");
  });
});
