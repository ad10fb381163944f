import type { AuthSettings } from "../account.js";
import type { Invite, UserAdmin } from "../admin.js";
import { fill, h, table } from "../dom.js";
import { formatTime } from "../format.js";
import { errorLine, inlineForm } from "../forms.js";
import { once } from "./sign.js";

function state(i: Invite, now: number): HTMLElement {
  if (i.usedBy) return h("span", { class: "badge" }, `used by ${i.usedBy}`);
  if (Date.parse(i.expiresAt) <= now) return h("span", { class: "badge state-down" }, "expired");
  return h("span", { class: "badge state-up" }, "unused");
}

/**
 * Invite codes for `auth.signup: invite`: make one (shown once: the mirror keeps a hash), list them, delete the
 * unused. Under another sign-up policy the codes would not be asked for, so the section only says so.
 */
export function invitesSection(admin: UserAdmin, signup: AuthSettings["signup"]): HTMLElement {
  const heading = h("h3", { id: "invites-title" }, "Invites");
  if (signup !== "invite") {
    return h(
      "section",
      { "data-section": "invites", "aria-labelledby": "invites-title" },
      heading,
      h(
        "p",
        {},
        `Sign-up is ${signup} on this mirror (auth.signup), so no invite code is asked for; with `,
        h("code", {}, "auth.signup: invite"),
        " admins make them here.",
      ),
    );
  }
  const list = h("div", {});
  const made = h("div", {});
  const status = errorLine();
  const load = async () => {
    const now = Date.now();
    const rows = (await admin.invites()).map((i) => {
      const remove = h(
        "button",
        { type: "button", class: "chip", "aria-label": `Delete invite ${i.hint}` },
        "Delete",
      );
      remove.addEventListener("click", () => {
        admin
          .deleteInvite(i.id)
          .then(() => load())
          .catch(status.fail);
      });
      return [
        h("code", {}, `${i.hint}…`),
        formatTime(Date.parse(i.createdAt), true),
        formatTime(Date.parse(i.expiresAt), true),
        state(i, now),
        i.usedBy ? null : remove,
      ];
    });
    fill(list, table("Invites", ["Code", "Made", "Valid until", "State", ""], rows, "No invites yet."));
  };
  const expires = h("input", { id: "invite-expires", type: "text", autocomplete: "off", size: "6" });
  expires.value = "7d";
  const form = inlineForm(
    { name: "New invite", label: "Valid for", input: expires, submit: "Create invite" },
    status,
    () =>
      admin.createInvite(expires.value).then((i) => {
        fill(
          made,
          h(
            "section",
            { class: "secret", "aria-label": "New invite code" },
            h("h3", {}, "New invite code"),
            h(
              "p",
              { class: "warning" },
              `Copy it now: this is the only time the mirror shows it. One sign-up, until ${formatTime(Date.parse(i.expiresAt), true)}.`,
            ),
            once("Invite code", i.code, "invite"),
          ),
        );
        return load();
      }),
  );
  void load().catch(status.fail);
  return h(
    "section",
    { "data-section": "invites", "aria-labelledby": "invites-title" },
    heading,
    form,
    status.el,
    made,
    list,
  );
}
