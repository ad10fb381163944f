import type { Account, NewToken } from "../account.js";
import { amountInput, type ListedUser, UserAdmin } from "../admin.js";
import { fill, h, table, tile } from "../dom.js";
import { formatAgo, formatBytes, formatCount, formatTime, sizeSetting } from "../format.js";
import { errorLine } from "../forms.js";
import { invitesSection } from "./invites.js";
import type { Page } from "./page.js";
import { once } from "./sign.js";

const DAY_MS = 86_400_000;
const COLUMNS = ["Name", "Role", "State", "Created", "Last active", "Today", "Requests/min", "Bytes/day", ""];

/** A limit in force, and whether it is the user's own or the default (auth.quota). */
function limit(value: string, own: number | null): HTMLElement {
  return h("span", {}, value, own === null ? h("span", { class: "muted" }, " default") : null);
}

const lastActive = (u: ListedUser, now: number) =>
  u.lastActive
    ? h(
        "span",
        { title: formatTime(Date.parse(u.lastActive), true) },
        formatAgo(Date.parse(u.lastActive), now),
      )
    : "never";

/** Registered, active today and in 30 days (any registry request), disabled: from the list itself. */
function figures(users: ListedUser[], now: number): HTMLElement {
  const since = (days: number) =>
    users.filter((u) => u.lastActive && now - Date.parse(u.lastActive) < days * DAY_MS).length;
  const today = users.filter((u) => u.today.requests > 0).length;
  const admins = users.filter((u) => u.admin).length;
  return h(
    "div",
    { class: "tiles" },
    tile(
      "registered",
      "Registered",
      formatCount(users.length),
      `${formatCount(admins)} admin${admins === 1 ? "" : "s"}`,
    ),
    tile("active-today", "Active today", formatCount(today), "with a request since 00:00 UTC"),
    tile("active-30d", "Active", formatCount(since(30)), "in the last 30 days"),
    tile("disabled", "Disabled", formatCount(users.filter((u) => u.disabled).length), "no pulls, no sign-in"),
  );
}

/** The form that sets one user's quotas: empty follows the default, 0 is no limit. */
function quotaForm(u: ListedUser, save: (rpm: string, bytes: string) => Promise<void>, close: () => void) {
  const rpm = h("input", {
    id: "quota-rpm",
    type: "text",
    inputmode: "numeric",
    placeholder: "default",
    autocomplete: "off",
  });
  const bytes = h("input", {
    id: "quota-bytes",
    type: "text",
    placeholder: "default, or e.g. 10GiB",
    autocomplete: "off",
  });
  rpm.value = u.quotaOverride.requestsPerMinute === null ? "" : String(u.quotaOverride.requestsPerMinute);
  bytes.value = u.quotaOverride.bytesPerDay === null ? "" : sizeSetting(u.quotaOverride.bytesPerDay);
  const cancel = h("button", { type: "button", class: "chip" }, "Cancel");
  cancel.addEventListener("click", close);
  const form = h(
    "form",
    { class: "panel", "aria-label": `Quotas of ${u.name}` },
    h("h3", {}, `Quotas of ${u.name}`),
    h("p", { class: "muted" }, "Empty follows the mirror's default (auth.quota); 0 is no limit."),
    h("p", { class: "field" }, h("label", { for: "quota-rpm" }, "Requests a minute"), rpm),
    h("p", { class: "field" }, h("label", { for: "quota-bytes" }, "Bytes a day"), bytes),
    h("p", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save quotas"), cancel),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void save(rpm.value, bytes.value);
  });
  return form;
}

/** Asks before resetting: every token and personal address of the user stops working at once. */
function resetConfirm(name: string, reset: () => Promise<void>, close: () => void): HTMLElement {
  const yes = h("button", { type: "button", class: "primary danger" }, "Reset tokens");
  const no = h("button", { type: "button", class: "chip" }, "Cancel");
  yes.addEventListener("click", () => void reset());
  no.addEventListener("click", close);
  return h(
    "section",
    { class: "panel", "aria-label": `Reset ${name}'s pull tokens` },
    h("h3", {}, `Reset ${name}'s pull tokens?`),
    h(
      "p",
      {},
      `Every pull token and personal address of ${name} stops working at once; one new token is made.`,
    ),
    h("p", { class: "actions" }, yes, no),
  );
}

/** A reset's new token, shown this once: the admin hands it over. */
function newTokenBox(name: string, t: NewToken): HTMLElement {
  return h(
    "section",
    { class: "secret", "data-secret": String(t.id), "aria-label": `New pull token of ${name}` },
    h("h3", {}, `New pull token of ${name}`),
    h(
      "p",
      { class: "warning" },
      `Copy it now and give it to ${name}: this is the only time the mirror shows it.`,
    ),
    once("Token", t.secret, "secret"),
    t.personal ? once("Personal mirror address", t.personal.url, "personal") : null,
  );
}

/** The admins' page: every account with its figures, and the changes an admin makes; the invites below. */
export function usersPage(account: Account): Page {
  const admin = new UserAdmin(account);
  const self = account.me?.user.name;
  const tiles = h("div", {});
  const list = h("div", { "data-section": "users" }, h("p", { class: "empty" }, "Loading…"));
  const panel = h("div", {});
  const status = errorLine();
  /** Runs a change, then shows the list as it is now. */
  const act = (change: () => Promise<unknown>) =>
    change()
      .then(() => {
        status.hide();
        return load();
      })
      .catch(status.fail);
  const button = (text: string, label: string, onClick: () => void) => {
    const b = h("button", { type: "button", class: "chip", "aria-label": label }, text);
    b.addEventListener("click", onClick);
    return b;
  };
  const close = () => panel.replaceChildren();
  const editQuotas = (u: ListedUser) => {
    const save = (rpm: string, bytes: string) =>
      act(async () => {
        await admin.setQuota(u.name, amountInput(rpm), amountInput(bytes));
        close();
      });
    fill(panel, quotaForm(u, save, close));
    panel.querySelector("input")?.focus();
  };
  const askReset = (u: ListedUser) => {
    const reset = () => act(async () => fill(panel, newTokenBox(u.name, await admin.resetToken(u.name))));
    fill(panel, resetConfirm(u.name, reset, close));
  };
  const actions = (u: ListedUser) => {
    const toggle = u.disabled ? "Enable" : "Disable";
    const setState = () => act(() => admin.setDisabled(u.name, !u.disabled));
    return h(
      "span",
      { class: "actions" },
      // Not one's own: an admin who disabled themselves would be locked out of this page.
      u.name === self ? null : button(toggle, `${toggle} ${u.name}`, setState),
      button("Quotas", `Quotas of ${u.name}`, () => editQuotas(u)),
      button("Reset token", `Reset ${u.name}'s token`, () => askReset(u)),
    );
  };
  const load = async () => {
    const users = await admin.users();
    const now = Date.now();
    fill(tiles, figures(users, now));
    const rows = users.map((u) => [
      h("strong", {}, u.name),
      u.admin ? "admin" : "user",
      h(
        "span",
        { class: `badge ${u.disabled ? "state-down" : "state-up"}` },
        u.disabled ? "disabled" : "active",
      ),
      formatTime(Date.parse(u.createdAt), true),
      lastActive(u, now),
      `${formatCount(u.today.requests)} req · ${formatBytes(u.today.bytes)}`,
      limit(
        u.quota.requestsPerMinute ? formatCount(u.quota.requestsPerMinute) : "no limit",
        u.quotaOverride.requestsPerMinute,
      ),
      limit(u.quota.bytesPerDay ? formatBytes(u.quota.bytesPerDay) : "no limit", u.quotaOverride.bytesPerDay),
      actions(u),
    ]);
    fill(list, table("Users", COLUMNS, rows, "No users yet."));
  };
  void load().catch(status.fail);
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "users-title" },
    h("h2", { id: "users-title" }, "Users"),
    tiles,
    status.el,
    panel,
    list,
    invitesSection(admin, account.settings.signup),
  );
  return { el, stats: false };
}
