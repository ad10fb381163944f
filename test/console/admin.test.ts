// The console's Users page, in Chromium against an in-process mirror in users mode (sign-up by invite): an admin
// sees every account with its figures, disables and enables a user, resets a token, sets quotas, and makes an
// invite with which a new user signs up. Every change is checked where it matters, on raw registry requests: a
// disabled user is refused, an old token too, a quota answers 429. A signed-in non-admin sees no Users page and
// gets 403 from every admin call made with their own session and CSRF token. Screenshots: users-admin*.png.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Locator, Page } from "playwright-core";
import { request } from "undici";
import { buildConsole } from "../../web/build.js";
import { useHubAndMirror } from "../fakes/mirror.js";
import { ADMIN_CALLS, addUser, basic } from "../users/api-client.js";
import { addAppImage, screenshot, useBrowser, type WatchedPage, watchedPage } from "./browser.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const PASSWORD = "correct horse battery";

describe("the console's Users page", () => {
  const env = useHubAndMirror({
    auth: {
      mode: "users",
      signup: "invite",
      domain: "mirror.test",
      quota: { requestsPerMinute: 600, bytesPerDay: "1GiB" },
    },
  });
  const chrome = useBrowser();
  const pages: WatchedPage[] = [];
  let w: WatchedPage;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let bob: Awaited<ReturnType<typeof addUser>>;
  let port: string;

  /** A manifest pull's answer: its status, error code and Retry-After. */
  async function pull(headers: Record<string, string>) {
    const res = await request(`${env.mirror.url}/v2/library/app/manifests/latest`, {
      headers: { accept: DOCKER, ...headers },
    });
    const body = (await res.body.json().catch(() => ({}))) as { errors?: { code: string }[] };
    return { status: res.statusCode, code: body.errors?.[0]?.code, retryAfter: res.headers["retry-after"] };
  }
  const pullAs = async (name: string, secret: string) =>
    (await pull({ authorization: basic(name, secret) })).status;

  async function newPage(): Promise<WatchedPage> {
    const p = await watchedPage(chrome.browser);
    pages.push(p);
    return p;
  }

  async function signIn(page: Page, name: string, password: string): Promise<void> {
    await page.goto(`${env.mirror.url}/#/signin`);
    await page.getByLabel("User name").fill(name);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "My mirror" }).waitFor();
  }

  /** A user's row in the users table, and one of its cells by column. */
  const row = (page: Page, name: string): Locator =>
    page
      .locator('[data-section="users"] tbody tr')
      .filter({ has: page.getByRole("cell", { name, exact: true }) });
  const COLUMNS = ["Name", "Role", "State", "Created", "Last active", "Today", "Requests/min", "Bytes/day"];
  const cell = (page: Page, name: string, column: string) =>
    row(page, name).locator("td").nth(COLUMNS.indexOf(column));

  before(async () => {
    await buildConsole();
    port = new URL(env.mirror.url).port;
    addAppImage(env.hub);
    await addUser(env.mirror.url, "root", { admin: true, password: PASSWORD });
    alice = await addUser(env.mirror.url, "alice");
    bob = await addUser(env.mirror.url, "bob");
    assert.equal(await pullAs("bob", bob.token), 200);
    w = await newPage();
  });
  after(async () => {
    for (const p of pages) await p.context.close();
    assert.deepEqual(
      pages.flatMap((p) => p.problems),
      [],
      "no console errors, page errors or CSP violations",
    );
  });

  it("shows an admin every user with role, state, activity, usage today and quotas", async () => {
    const { page } = w;
    await signIn(page, "root", PASSWORD);
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
    await row(page, "bob").waitFor();
    const names = await page.locator('[data-section="users"] tbody tr td:first-child').allTextContents();
    assert.deepEqual(names, ["alice", "bob", "root"]);
    assert.equal(await cell(page, "root", "Role").textContent(), "admin");
    assert.equal(await cell(page, "bob", "Role").textContent(), "user");
    assert.equal(await cell(page, "bob", "State").textContent(), "active");
    assert.match((await cell(page, "bob", "Created").textContent()) ?? "", /\d{4}/);
    assert.match((await cell(page, "bob", "Last active").textContent()) ?? "", /ago|just now/);
    assert.equal(await cell(page, "alice", "Last active").textContent(), "never");
    assert.match((await cell(page, "bob", "Today").textContent()) ?? "", /^1 req · \d+ B$/);
    assert.equal(await cell(page, "alice", "Today").textContent(), "0 req · 0 B");
    assert.equal(await cell(page, "alice", "Requests/min").textContent(), "600 default");
    assert.equal(await cell(page, "alice", "Bytes/day").textContent(), "1.0 GiB default");
    const tile = (id: string) => page.locator(`[data-tile="${id}"] .value`).textContent();
    assert.equal(await tile("registered"), "3");
    assert.equal(await tile("active-today"), "1");
    assert.equal(await tile("disabled"), "0");
    assert.equal(await page.getByRole("button", { name: "Disable root" }).count(), 0, "not oneself");
    await screenshot(page, "users-admin");
  });

  it("disables a user, whose pulls are then refused, and enables them again", async () => {
    const { page } = w;
    await page.getByRole("button", { name: "Disable bob" }).click();
    await cell(page, "bob", "State").getByText("disabled").waitFor();
    assert.equal(await page.locator('[data-tile="disabled"] .value').textContent(), "1");
    assert.deepEqual(await pull({ authorization: basic("bob", bob.token) }), {
      status: 403,
      code: "DENIED",
      retryAfter: undefined,
    });
    assert.equal((await pull({ host: `${bob.token}.mirror.test:${port}` })).status, 403, "personal address");
    await page.getByRole("button", { name: "Enable bob" }).click();
    await cell(page, "bob", "State").getByText("active").waitFor();
    assert.equal(await pullAs("bob", bob.token), 200);
  });

  it("resets a user's token: the new one is shown once and pulls, the old one is refused", async () => {
    const { page } = w;
    await page.getByRole("button", { name: "Reset bob's token" }).click();
    await page.getByRole("button", { name: "Reset tokens" }).click();
    const box = page.getByRole("region", { name: "New pull token of bob" });
    const secret = (await box.locator('[data-once="secret"] code').textContent()) ?? "";
    assert.match(secret, /^[a-z2-7]{32}$/);
    assert.notEqual(secret, bob.token);
    assert.equal(
      await box.locator('[data-once="personal"] code').textContent(),
      `http://${secret}.mirror.test:${port}`,
    );
    await screenshot(page, "users-admin-reset");
    assert.equal(await pullAs("bob", bob.token), 401, "the old token");
    assert.equal(await pullAs("bob", secret), 200, "the new token");
    assert.equal((await pull({ host: `${secret}.mirror.test:${port}` })).status, 200, "its personal address");
    bob.token = secret;
  });

  it("sets a user's quotas: shown in the list and enforced with 429", async () => {
    const { page } = w;
    await page.getByRole("button", { name: "Quotas of alice" }).click();
    await page.getByLabel("Requests a minute").fill("3");
    await page.getByLabel("Bytes a day").fill("5MiB");
    await page.getByRole("button", { name: "Save quotas" }).click();
    await cell(page, "alice", "Requests/min").getByText("3", { exact: true }).waitFor();
    assert.equal(await cell(page, "alice", "Bytes/day").textContent(), "5.0 MiB");
    for (let i = 1; i <= 3; i++) assert.equal(await pullAs("alice", alice.token), 200, `request ${i}`);
    const over = await pull({ authorization: basic("alice", alice.token) });
    assert.equal(over.status, 429);
    assert.equal(over.code, "TOOMANYREQUESTS");
    assert.ok(Number(over.retryAfter) >= 1, `Retry-After ${over.retryAfter}`);
    assert.equal(await pullAs("bob", bob.token), 200, "bob keeps the default");

    // A byte quota below what alice has been served today refuses her next request.
    await page.getByRole("button", { name: "Quotas of alice" }).click();
    assert.equal(await page.getByLabel("Bytes a day").inputValue(), "5MiB", "the form shows her own quota");
    await page.getByLabel("Requests a minute").fill("0");
    await page.getByLabel("Bytes a day").fill("10");
    await page.getByRole("button", { name: "Save quotas" }).click();
    await cell(page, "alice", "Bytes/day").getByText("10 B", { exact: true }).waitFor();
    assert.equal(await cell(page, "alice", "Requests/min").textContent(), "no limit");
    const bytesOver = await pull({ authorization: basic("alice", alice.token) });
    assert.equal(bytesOver.status, 429);
    assert.ok(Number(bytesOver.retryAfter) >= 1);

    // Empty fields: back to the defaults.
    await page.getByRole("button", { name: "Quotas of alice" }).click();
    await page.getByLabel("Requests a minute").fill("");
    await page.getByLabel("Bytes a day").fill("");
    await page.getByRole("button", { name: "Save quotas" }).click();
    await cell(page, "alice", "Bytes/day").getByText("1.0 GiB default").waitFor();
    assert.equal(await pullAs("alice", alice.token), 200);
  });

  it("makes an invite with which a new user signs up, and lists it as used", async () => {
    const { page } = w;
    const invites = page.locator('[data-section="invites"]');
    await invites.getByText("No invites yet.").waitFor();
    await page.getByLabel("Valid for").fill("2d");
    await page.getByRole("button", { name: "Create invite" }).click();
    const code = (await page.locator('[data-once="invite"] code').textContent()) ?? "";
    assert.match(code, /^[a-z2-7]{16}$/);
    const inviteRow = invites.locator("tbody tr");
    await inviteRow.getByText("unused").waitFor();
    assert.equal(await inviteRow.locator("code").textContent(), `${code.slice(0, 4)}…`);
    await screenshot(page, "users-admin-invites");

    const { page: newcomer } = await newPage();
    await newcomer.goto(`${env.mirror.url}/#/signup`);
    await newcomer.getByLabel("User name").fill("carol");
    await newcomer.getByLabel("Password").fill(PASSWORD);
    await newcomer.getByLabel("Invite code").fill(code);
    await newcomer.getByRole("button", { name: "Sign up" }).click();
    const token = (await newcomer.locator('[data-once="secret"] code').textContent()) ?? "";
    assert.equal(await pullAs("carol", token), 200, "the new user pulls");
    assert.equal(await newcomer.getByRole("link", { name: "Users" }).count(), 0);

    await page.reload();
    await row(page, "carol").waitFor();
    await invites.locator("tbody tr").getByText("used by carol").waitFor();
    assert.equal(await page.locator('[data-tile="registered"] .value').textContent(), "4");
  });

  it("hides the page from a non-admin, and every admin call refuses them with 403", async () => {
    const { page, context } = await newPage();
    await signIn(page, "alice", alice.password);
    assert.equal(await page.getByRole("link", { name: "Users" }).count(), 0, "no Users in the navigation");
    await page.goto(`${env.mirror.url}/#/users`);
    await page.getByRole("heading", { name: /^Overview/ }).waitFor();
    assert.equal(await page.locator('[data-section="users"]').count(), 0);

    // Her own session cookie and CSRF token, as a script of hers would send them.
    const me = (await (await context.request.get(`${env.mirror.url}/api/me`)).json()) as {
      csrfToken: string;
    };
    for (const [method, path, body] of ADMIN_CALLS) {
      const res = await context.request.fetch(`${env.mirror.url}${path}`, {
        method,
        headers: { origin: env.mirror.url, "x-csrf-token": me.csrfToken },
        ...(body === undefined ? {} : { data: body }),
      });
      assert.equal(res.status(), 403, `${method} ${path}`);
      assert.deepEqual((await res.json()) as unknown, {
        errors: [{ code: "DENIED", message: "admins only", detail: null }],
      });
    }
    assert.equal(await pullAs("bob", bob.token), 200, "bob is neither disabled nor reset");
    const users = (await (await request(`${env.mirror.url}/admin/users`)).body.json()) as {
      users: { name: string; quota: { requestsPerMinute: number } }[];
    };
    assert.ok(!users.users.some((u) => u.name === "mallory"), "no account made");
    assert.equal(users.users.find((u) => u.name === "alice")?.quota.requestsPerMinute, 600, "her quota kept");
    // The same session and CSRF token do change what is hers: the refusals above were for not being an admin.
    const own = await context.request.post(`${env.mirror.url}/api/me/tokens`, {
      headers: { origin: env.mirror.url, "x-csrf-token": me.csrfToken },
      data: { name: "probe" },
    });
    assert.equal(own.status(), 200);
  });
});
