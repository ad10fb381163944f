// The web console in a real browser (headless Chromium), served by an in-process mirror: the statistics pages
// render with no console error and no CSP violation, the figures of /api/stats appear as the UI formats them, the
// range switch asks for its range, refresh and the error banner work. /api/stats is a Playwright route with known
// figures (test/console/stats-fixture.ts); screenshots go to test-artifacts/console/ (the Setup page: its own file).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Page } from "playwright-core";
import type { Range } from "../../web/src/api.js";
import { eventually } from "../helpers.js";
import { type ConsoleSession, type StatsAnswer, type StatsStub, screenshot, useConsole } from "./browser.js";
import { statsFixture } from "./stats-fixture.js";

const tile = (page: Page, id: string) => page.locator(`[data-tile="${id}"]`);

async function expectTile(page: Page, id: string, value: string, detail?: string): Promise<void> {
  await page.locator(`[data-tile="${id}"] .value`, { hasText: value }).waitFor();
  assert.equal(await tile(page, id).locator(".value").textContent(), value, id);
  if (detail !== undefined) assert.equal(await tile(page, id).locator(".detail").textContent(), detail, id);
}

/** The text of each row of the table in a section, cells joined with " | ". */
async function rows(page: Page, section: string): Promise<string[]> {
  return page
    .locator(`[data-section="${section}"] tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent?.trim()).join(" | ")));
}

describe("web console in Chromium", () => {
  const c = useConsole();
  let w: ConsoleSession;

  async function open(hash?: string, answer?: StatsAnswer): Promise<StatsStub> {
    w = await c.open(hash, answer);
    return w.stub;
  }
  const close = () => c.close(w);

  it("shows the overview figures of /api/stats, its charts, downloads and upstream health", async () => {
    const stub = await open();
    const { page } = w;
    await expectTile(page, "pulls", "1,234", "4,321 manifest and 5,555 blob requests");
    await expectTile(page, "served", "5.0 GiB");
    await expectTile(page, "upstream", "1.0 GiB");
    await expectTile(page, "saved", "4.0 GiB", "80.0% of the bytes served");
    await expectTile(page, "hit-ratio", "91.1%", "9,000 hits, 876 misses");
    await expectTile(page, "cache", "100.0 GiB", "4,242 objects of 200.0 GiB max");
    await expectTile(page, "avg-speed", "1.5 MiB/s");
    await expectTile(page, "peak-speed", "8.0 MiB/s");
    await expectTile(page, "users", "0", "registered, 0 active");
    assert.deepEqual(stub.ranges, ["24h"]);
    assert.equal(await page.locator("h2").textContent(), "Overview — Last 24 hours");
    for (const [chart, title] of [
      ["pulls", "Pulls per hour"],
      ["traffic", "Traffic per hour"],
      ["hit-ratio", "Hit ratio per hour"],
    ]) {
      assert.equal(await page.locator(`[data-chart="${chart}"] figcaption`).textContent(), title);
      await page.locator(`[data-chart="${chart}"] canvas`).waitFor();
    }
    assert.deepEqual(await rows(page, "in-flight"), [
      "docker.io/library/nginx | sha256:abababababab | 1,000 B of 4.9 KiB (20.0%)",
    ]);
    const upstreams = await rows(page, "upstreams");
    assert.equal(upstreams.length, 2);
    assert.match(
      upstreams[0] ?? "",
      /^docker\.io \| https:\/\/registry-1\.docker\.io \| up \| 80 of 100 \| 4\d s ago$/,
    );
    assert.equal(upstreams[1], "ghcr.io | https://ghcr.io | down | — | —");
    assert.equal(await page.locator(".banner").isHidden(), true);
    assert.equal(await page.locator('nav a[aria-current="page"]').textContent(), "Overview");
    await screenshot(page, "overview");
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "overview-dark");

    // The policy is enforced, and a violation would fail the test: an injected inline script does not run.
    await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "document.body.dataset.inline = 'ran'";
      document.body.append(script);
    });
    await eventually("the CSP violation", async () =>
      w.problems.some((p) => /CSP violation: script-src/.test(p)),
    );
    assert.equal(await page.evaluate(() => document.body.dataset.inline), undefined);
    w.problems = w.problems.filter((p) => !/CSP violation|Content Security Policy/.test(p));
    await close();
  });

  it("asks for the range picked, shows its figures, and keeps it across reloads", async () => {
    const stub = await open();
    const { page } = w;
    await expectTile(page, "pulls", "1,234");
    await page.getByRole("button", { name: "30 d" }).click();
    await expectTile(page, "pulls", "98,765");
    await expectTile(page, "served", "1.5 TiB");
    await expectTile(page, "upstream", "512.0 GiB");
    await expectTile(page, "hit-ratio", "93.3%");
    assert.equal(await page.locator("[data-chart=pulls] figcaption").textContent(), "Pulls per day");
    assert.equal(await page.getByRole("button", { name: "30 d" }).getAttribute("aria-pressed"), "true");
    assert.equal(await page.getByRole("button", { name: "24 h" }).getAttribute("aria-pressed"), "false");
    await screenshot(page, "overview-30d");
    await page.getByRole("button", { name: "1 h" }).click();
    await expectTile(page, "pulls", "7");
    await expectTile(page, "upstream", "0 B");
    await expectTile(page, "hit-ratio", "100.0%");
    assert.equal(await page.locator("[data-chart=pulls] figcaption").textContent(), "Pulls per minute");
    assert.deepEqual(stub.ranges, ["24h", "30d", "1h"]);
    await page.reload();
    await expectTile(page, "pulls", "7");
    assert.deepEqual(stub.ranges.slice(3), ["1h"]);
    await close();
  });

  it("refreshes every 10 seconds, and shows an error banner while the API fails", async () => {
    const stub = await open();
    const { page } = w;
    await expectTile(page, "pulls", "1,234");
    stub.answer = () => ({
      status: 500,
      body: { errors: [{ code: "UNKNOWN", message: "database is locked", detail: null }] },
    });
    await page.clock.runFor(10_000);
    const banner = page.getByRole("alert");
    await banner.waitFor();
    assert.equal(
      await banner.textContent(),
      "Cannot load the statistics: GET /api/stats answered 500: database is locked",
    );
    // The last figures stay on screen while the API fails.
    await expectTile(page, "pulls", "1,234");
    await screenshot(page, "error-banner");
    stub.answer = (range) => ({
      status: 200,
      body: { ...statsFixture(range as Range), totals: { ...statsFixture("24h").totals, pulls: 1235 } },
    });
    await page.clock.runFor(10_000);
    await expectTile(page, "pulls", "1,235");
    await banner.waitFor({ state: "hidden" });
    assert.deepEqual(stub.ranges, ["24h", "24h", "24h"]);
    // The console errors the failed fetch logs are the browser's report of the 500, not a page fault.
    w.problems = w.problems.filter((p) => !/status of 500/.test(p));
    await close();
  });

  it("shows empty states for a mirror that has served nothing", async () => {
    await open("#/", (range) => ({ status: 200, body: statsFixture(range as Range, true) }));
    const { page } = w;
    await expectTile(page, "pulls", "0");
    await expectTile(page, "served", "0 B");
    await expectTile(page, "saved", "0 B", "nothing served yet");
    await expectTile(page, "hit-ratio", "—");
    await expectTile(page, "cache", "0 B", "0 objects");
    assert.equal(
      await page.locator("[data-section=in-flight] .empty").textContent(),
      "No downloads in progress.",
    );
    assert.equal(
      await page.locator("[data-section=upstreams] .empty").textContent(),
      "No upstream has answered yet.",
    );
    await page.getByRole("link", { name: "Top images and activity" }).click();
    await page.locator("[data-section=recent] .empty").waitFor();
    assert.equal(
      await page.locator("[data-section=by-pulls] .empty").textContent(),
      "No pulls in this range yet.",
    );
    assert.equal(await page.locator("[data-section=recent] .empty").textContent(), "No requests yet.");
    await screenshot(page, "empty");
    await close();
  });

  it("shows top images, requests by client and recent activity", async () => {
    await open("#/activity");
    const { page } = w;
    await page.locator("[data-section=recent] tbody tr").first().waitFor();
    assert.equal(await page.locator('nav a[aria-current="page"]').textContent(), "Top images and activity");
    assert.deepEqual(await rows(page, "by-pulls"), [
      "1 | docker.io/library/alpine | 700 | 3.0 MiB",
      "2 | docker.io/library/nginx | 300 | 900.0 MiB",
    ]);
    assert.deepEqual(await rows(page, "by-bytes"), [
      "1 | docker.io/library/nginx | 900.0 MiB | 300",
      "2 | docker.io/library/alpine | 3.0 MiB | 700",
    ]);
    assert.deepEqual(await rows(page, "clients"), [
      "docker | 10",
      "containerd | 5",
      "podman | 2",
      "other | 1",
    ]);
    assert.deepEqual(await rows(page, "recent"), [
      "11:59:59 AM | docker.io/library/alpine | 3.20 | manifest | hit | 1.2 KiB | docker | 200",
      "11:59:55 AM | docker.io/library/nginx | sha256:cdcdcdcdcdcd | blob | miss | 5.0 MiB | containerd | 200",
    ]);
    await screenshot(page, "activity");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Overview" }).click();
    await expectTile(page, "pulls", "1,234");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.equal(overflow, 0, "a phone-sized window scrolls only vertically");
    await screenshot(page, "overview-phone");
    await close();
  });
});
