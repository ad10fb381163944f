// The console's Setup page in Chromium: the client configuration carries this mirror's address (the page's
// origin, loopback or a name), plain http gets the insecure settings, and Copy puts a snippet on the clipboard,
// through the Clipboard API on a secure origin and through the fallback on a plain-http name.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Page } from "playwright-core";
import {
  type ConsoleSession,
  MIRROR_NAME,
  screenshot,
  useConsole,
  type WatchedPage,
  watchedPage,
} from "./browser.js";

/** The code of each config-file snippet on the setup page, by file. */
async function snippets(page: Page): Promise<Record<string, string>> {
  const files = await page
    .locator(".snippet[data-file]")
    .evaluateAll((els) =>
      els.map((el) => [el.getAttribute("data-file"), el.querySelector("code")?.textContent]),
    );
  return Object.fromEntries(files);
}

const FILES = [
  "/etc/docker/daemon.json",
  "/etc/containerd/certs.d/docker.io/hosts.toml",
  "/etc/rancher/k3s/registries.yaml",
  "/etc/containers/registries.conf",
];

describe("web console setup page in Chromium", () => {
  const c = useConsole();
  let w: WatchedPage;

  async function open(hash: string): Promise<ConsoleSession["stub"]> {
    const session = await c.open(hash);
    w = session;
    return session.stub;
  }
  const close = () => c.close(w);

  it("every snippet carries this mirror's address, and Copy puts a snippet on the clipboard", async () => {
    const stub = await open("#/setup");
    const { page, context } = w;
    const url = c.url();
    const host = new URL(url).host;
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: url });
    await page.locator(".snippet[data-file]").first().waitFor();
    const files = await snippets(page);
    assert.deepEqual(Object.keys(files), FILES);
    assert.equal(
      files["/etc/docker/daemon.json"],
      `{\n  "registry-mirrors": ["${url}"],\n  "insecure-registries": ["${host}"]\n}`,
    );
    assert.match(
      files["/etc/containerd/certs.d/docker.io/hosts.toml"] ?? "",
      new RegExp(`\\[host\\."${url}"\\]`),
    );
    assert.match(files["/etc/rancher/k3s/registries.yaml"] ?? "", new RegExp(`- "${url}"`));
    assert.match(
      files["/etc/containers/registries.conf"] ?? "",
      new RegExp(`location = "${host}"\ninsecure = true`),
    );
    assert.match(
      (await page.locator(".guide[data-guide=check] code").textContent()) ?? "",
      new RegExp(`curl -s ${url}/v2/`),
    );
    assert.match((await page.locator("#address-hint").textContent()) ?? "", /loopback address/);
    assert.equal(await page.getByRole("group", { name: "Time range" }).isHidden(), true);

    const copy = page.getByRole("button", { name: "Copy /etc/docker/daemon.json" });
    await copy.click();
    await page
      .getByRole("button", { name: "Copy /etc/docker/daemon.json" })
      .filter({ hasText: "Copied" })
      .waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), files["/etc/docker/daemon.json"]);
    assert.deepEqual(stub.ranges, [], "the setup page asks for no statistics");
    await screenshot(page, "setup");
    await close();
  });

  it("on a plain-http name: its address in the snippets, Copy still works, the address can be changed", async () => {
    const port = new URL(c.url()).port;
    w = await watchedPage(c.browser());
    const { page, context } = w;
    const named = `http://${MIRROR_NAME}:${port}`;
    await page.goto(`${named}/#/setup`);
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    await page.locator(".snippet[data-file]").first().waitFor();
    const files = await snippets(page);
    for (const file of FILES) assert.ok(files[file]?.includes(`${MIRROR_NAME}:${port}`), file);
    assert.match(files["/etc/docker/daemon.json"] ?? "", new RegExp(`"registry-mirrors": \\["${named}"\\]`));
    assert.match(
      (await page.locator("#address-hint").textContent()) ?? "",
      /Clients reach the mirror at this address/,
    );

    await page.getByRole("button", { name: "Copy /etc/containers/registries.conf" }).click();
    await page
      .getByRole("button", { name: "Copy /etc/containers/registries.conf" })
      .filter({ hasText: "Copied" })
      .waitFor();
    // No Clipboard API on an insecure origin: read what the fallback copied from a page on a secure one.
    await context.grantPermissions(["clipboard-read"], { origin: c.url() });
    const reader = await context.newPage();
    await reader.goto(`${c.url()}/#/setup`);
    assert.equal(
      await reader.evaluate(() => navigator.clipboard.readText()),
      files["/etc/containers/registries.conf"],
    );
    await reader.close();

    const address = page.getByLabel("Mirror address");
    await address.fill("https://hub-cache.example.org");
    await page.locator(".snippet[data-file]", { hasText: "hub-cache.example.org" }).first().waitFor();
    const https = await snippets(page);
    assert.equal(
      https["/etc/docker/daemon.json"],
      '{\n  "registry-mirrors": ["https://hub-cache.example.org"]\n}',
    );
    assert.doesNotMatch(https["/etc/containers/registries.conf"] ?? "", /insecure/);
    await address.fill("ftp://nope");
    assert.equal(await address.getAttribute("aria-invalid"), "true");
    await close();
  });
});
