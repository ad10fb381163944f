// The console in users mode, in Chromium against an in-process mirror (auth.mode users, open sign-up, domain
// mirror.test): sign up (the token and personal address shown once), the Setup page filled in with that personal
// address and credentials, sign out and in, a token made and revoked on My mirror, My statistics after a pull.
// Every token the page shows is tried against the registry: it must pull, and a revoked one must not.
// Screenshots go to test-artifacts/console/users-*.png.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { request } from "undici";
import { buildConsole } from "../../web/build.js";
import { useHubAndMirror } from "../fakes/mirror.js";
import { eventually } from "../helpers.js";
import { addAppImage, screenshot, useBrowser, type WatchedPage, watchedPage } from "./browser.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const PASSWORD = "correct horse battery";

/** The code of each config-file snippet on the setup page, by file; and every command step. */
async function snippets(page: Page): Promise<{ files: Record<string, string>; commands: string }> {
  await page.locator(".snippet").first().waitFor();
  const all = await page
    .locator(".snippet")
    .evaluateAll((els) =>
      els.map((el) => [el.getAttribute("data-file"), el.querySelector("code")?.textContent]),
    );
  return {
    files: Object.fromEntries(all.filter(([f]) => f)),
    commands: all
      .filter(([f]) => !f)
      .map(([, c]) => c)
      .join("\n"),
  };
}

describe("web console in users mode", () => {
  const env = useHubAndMirror({ auth: { mode: "users", signup: "open", domain: "mirror.test" } });
  const chrome = useBrowser();
  let w: WatchedPage;
  let port: string;
  before(async () => {
    await buildConsole();
    port = new URL(env.mirror.url).port;
    addAppImage(env.hub);
    w = await watchedPage(chrome.browser);
  });
  after(async () => {
    await w.context.close();
    // Chromium logs a 401 as a failed load: the one sign-in with a wrong password is expected, nothing else.
    const expected =
      /^console error: Failed to load resource: .* status of 401 .*\(http:[^ ]+\/api\/auth\/signin\)$/;
    assert.deepEqual(
      w.problems.filter((p) => !expected.test(p)),
      [],
      "no console errors, page errors or CSP violations",
    );
  });

  /** The status of a manifest pull, through the personal address of `secret` or with Basic credentials. */
  async function pull(auth: { host: string } | { authorization: string }): Promise<number> {
    const res = await request(`${env.mirror.url}/v2/library/app/manifests/latest`, {
      headers: { accept: DOCKER, ...auth },
    });
    await res.body.dump();
    return res.statusCode;
  }
  const basic = (user: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`,
  });
  const secretOf = (page: Page) => page.locator('[data-once="secret"] code').textContent() as Promise<string>;

  let first = "";

  it("signs up and shows the pull token and personal address once, which pull", async () => {
    const { page } = w;
    await page.goto(`${env.mirror.url}/#/signup`);
    await page.getByLabel("User name").fill("alice");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.locator(".secret").waitFor();
    first = await secretOf(page);
    assert.match(first, /^[a-z0-9]{20,}$/);
    assert.equal(
      await page.locator('[data-once="personal"] code').textContent(),
      `http://${first}.mirror.test:${port}`,
    );
    assert.match((await page.locator(".secret .warning").textContent()) ?? "", /^Copy it now: /);
    await screenshot(page, "users-signup");
    assert.equal(await pull({ host: `${first}.mirror.test:${port}` }), 200, "the personal address pulls");
    assert.equal(await pull(basic("alice", first)), 200, "name and token pull");
    assert.equal(await pull({ host: `${"x".repeat(first.length)}.mirror.test:${port}` }), 401);
  });

  it("fills the Setup page in with the personal address and credentials", async () => {
    const { page } = w;
    await page.getByRole("link", { name: "Setup" }).click();
    const { files, commands } = await snippets(page);
    const personal = `http://${first}.mirror.test:${port}`;
    assert.match(
      await page.locator("[data-personal]").textContent().then(String),
      new RegExp(`your personal address is ${personal.replaceAll(".", "\\.")}\\.$`),
    );
    assert.match(
      files["/etc/docker/daemon.json"] ?? "",
      new RegExp(`"registry-mirrors": \\["${personal}"\\]`),
    );
    const b64 = Buffer.from(`alice:${first}`).toString("base64");
    assert.ok(
      files["/etc/containerd/certs.d/docker.io/hosts.toml"]?.includes(`Authorization = ["Basic ${b64}"]`),
      files["/etc/containerd/certs.d/docker.io/hosts.toml"],
    );
    assert.ok(
      commands.includes(`podman login --tls-verify=false -u alice -p ${first} 127.0.0.1:${port}`),
      commands,
    );
    assert.ok(files["/etc/rancher/k3s/registries.yaml"]?.includes(`password: "${first}"`));
    await screenshot(page, "users-setup");
  });

  it("signs out and in; My statistics shows the user's pulls", async () => {
    const { page } = w;
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "My mirror" }).count(), 0);
    assert.deepEqual(
      await page.evaluate(() => fetch("api/me").then(async (r) => [r.status, await r.json()])),
      [200, { user: null }],
      "the session is over",
    );

    await page.getByLabel("User name").fill("alice");
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator(".form-error", { hasText: /./ }).waitFor();
    await screenshot(page, "users-signin-failed");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "My mirror" }).waitFor();

    // Without a token made in this page session, the Setup page says how to get one.
    await page.getByRole("link", { name: "Setup" }).click();
    await page.locator('[data-personal="none"]').waitFor();

    await page.getByRole("link", { name: "My statistics" }).click();
    await eventually("the pulls recorded", async () => {
      const r = await page.evaluate(() => fetch("api/me/stats?days=1").then((r) => r.json()));
      return (r as { total: { pulls: number } }).total.pulls === 2;
    });
    await page.reload();
    await page.locator('[data-tile="my-pulls"] .value', { hasText: "2" }).waitFor();
    await screenshot(page, "users-my-stats");
  });

  it("creates a token on My mirror, shows it once, and revokes it", async () => {
    const { page } = w;
    await page.getByRole("link", { name: "My mirror" }).click();
    const rows = page.locator('[data-section="tokens"] tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.ok(first.startsWith((await rows.first().locator("code").textContent())?.replace("…", "") ?? "-"));

    await page.getByLabel("New token named").fill("laptop");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.locator(".secret", { hasText: "laptop" }).waitFor();
    const second = await secretOf(page);
    assert.notEqual(second, first);
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.equal(await rows.nth(1).locator("td").first().textContent(), "laptop");
    assert.ok(second.startsWith((await rows.nth(1).locator("code").textContent())?.replace("…", "") ?? "-"));
    assert.equal(await pull(basic("alice", second)), 200, "the new token pulls");
    await screenshot(page, "users-my-mirror");

    await page.getByRole("link", { name: "Setup" }).click();
    assert.match(
      (await snippets(page)).files["/etc/docker/daemon.json"] ?? "",
      new RegExp(`http://${second}\\.mirror\\.test:${port}`),
    );

    await page.getByRole("link", { name: "My mirror" }).click();
    await page.getByRole("button", { name: "Revoke laptop" }).click();
    await page.getByRole("button", { name: "Revoke laptop" }).waitFor({ state: "detached" });
    assert.equal(await rows.count(), 1);
    assert.equal(await pull(basic("alice", second)), 401, "the revoked token is refused");
    assert.equal(await pull(basic("alice", first)), 200, "the other still pulls");
  });
});
