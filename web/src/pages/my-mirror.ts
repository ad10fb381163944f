import type { Account } from "../account.js";
import { fill, h, table, tile } from "../dom.js";
import { formatBytes, formatCount, formatTime } from "../format.js";
import { errorLine, inlineForm } from "../forms.js";
import type { Page } from "./page.js";
import { secretBox } from "./sign.js";

function signedOut(title: string): Page {
  return {
    el: h(
      "section",
      { class: "page" },
      h("h2", {}, title),
      h("p", {}, h("a", { href: "#/signin" }, "Sign in"), " to see your pull tokens and figures."),
    ),
    stats: false,
  };
}

/** The user's pull tokens (name and hint only: secrets are never shown again), a new one, and revoking. */
export function myMirrorPage(account: Account): Page {
  if (!account.me) return signedOut("My mirror");
  const list = h("div", { "data-section": "tokens" });
  const made = h("div", {});
  const status = errorLine();
  const load = async () => {
    const tokens = await account.tokens();
    const rows = tokens.map((t) => {
      const revoke = h(
        "button",
        { type: "button", class: "chip", "aria-label": `Revoke ${t.name}` },
        "Revoke",
      );
      revoke.addEventListener("click", () => {
        account
          .revokeToken(t.id)
          .then(() => {
            if (made.querySelector(`[data-secret="${t.id}"]`)) made.replaceChildren();
            return load();
          })
          .catch(status.fail);
      });
      return [
        t.name,
        h("code", {}, `${t.hint}…`),
        t.lastUsed ? formatTime(Date.parse(t.lastUsed), true) : "never",
        revoke,
      ];
    });
    fill(list, table("Pull tokens", ["Name", "Starts with", "Last used", ""], rows, "No pull tokens."));
  };
  const name = h("input", {
    id: "token-name",
    name: "token-name",
    type: "text",
    required: true,
    autocomplete: "off",
  });
  const create = inlineForm(
    { name: "New pull token", label: "New token named", input: name, submit: "Create token" },
    status,
    () =>
      account.createToken(name.value).then((t) => {
        name.value = "";
        made.replaceChildren(secretBox(t));
        return load();
      }),
  );
  void load().catch(status.fail);
  const { user, mirror } = account.me;
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "me-title" },
    h("h2", { id: "me-title" }, "My mirror"),
    h(
      "p",
      {},
      `Signed in as ${user.name}. Clients pull with your name and a pull token` +
        (mirror.domain
          ? `, or through your personal address ${new URL(mirror.url).protocol}//TOKEN.${mirror.domain}.`
          : "."),
    ),
    status.el,
    made,
    h("h3", {}, "Pull tokens"),
    list,
    create,
  );
  return { el, stats: false };
}

/** The user's own usage by day, from /api/me/stats. */
export function myStatsPage(account: Account): Page {
  if (!account.me) return signedOut("My statistics");
  const body = h("div", {}, h("p", { class: "empty" }, "Loading…"));
  account.myStats(30).then(
    (s) => {
      const q = s.quota;
      fill(
        body,
        h(
          "div",
          { class: "tiles" },
          tile("my-pulls", "Pulls", formatCount(s.total.pulls), `${formatCount(s.total.requests)} requests`),
          tile("my-bytes", "Downloaded", formatBytes(s.total.bytes), "last 30 days"),
          tile(
            "my-quota",
            "Left today",
            q.bytesLeftToday == null ? "no limit" : formatBytes(q.bytesLeftToday),
            q.requestsPerMinute
              ? `${formatCount(q.requestsPerMinute)} requests a minute`
              : "no request limit",
          ),
        ),
        table(
          "Usage by day",
          ["Day", "Pulls", "Requests", "Downloaded"],
          s.days.map((d) => [d.day, formatCount(d.pulls), formatCount(d.requests), formatBytes(d.bytes)]),
          "No pulls in the last 30 days.",
        ),
      );
    },
    (err: Error) => fill(body, h("p", { class: "form-error", role: "alert" }, err.message)),
  );
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "my-stats-title" },
    h("h2", { id: "my-stats-title" }, "My statistics — Last 30 days"),
    body,
  );
  return { el, stats: false };
}
