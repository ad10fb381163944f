import type { Account, NewToken } from "../account.js";
import { copyText } from "../clipboard.js";
import { h } from "../dom.js";
import { failure } from "../forms.js";
import type { Page } from "./page.js";

function field(id: string, label: string, type: string, autocomplete: string, required = true): HTMLElement {
  return h(
    "p",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, type, autocomplete, required, spellcheck: "false" }),
  );
}

const value = (form: HTMLFormElement, name: string) =>
  (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? "";

/** A form whose submit runs `action`; its error shows in the form, by the API's own message. */
function form(
  label: string,
  fields: HTMLElement[],
  action: (f: HTMLFormElement) => Promise<void>,
): HTMLElement {
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, label);
  const f = h("form", { class: "account-form", "aria-label": label }, ...fields, error, submit);
  f.addEventListener("submit", (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    action(f)
      .catch((err: Error) => {
        error.textContent = failure(err);
        error.hidden = false;
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return f;
}

/** A one-off value (a token's secret, a personal address, an invite code) with its Copy button. */
export function once(label: string, text: string, id: string): HTMLElement {
  const button = h("button", { type: "button", class: "copy", "aria-label": `Copy ${label}` }, "Copy");
  button.addEventListener("click", () => {
    copyText(text).then(
      () => {
        button.textContent = "Copied";
      },
      () => {
        button.textContent = "Select and copy by hand";
      },
    );
  });
  return h(
    "div",
    { class: "once", "data-once": id },
    h("span", { class: "file" }, label),
    h("code", {}, text),
    button,
  );
}

/** A new token's secret and personal address, shown this once: the mirror keeps only a hash. */
export function secretBox(t: NewToken): HTMLElement {
  return h(
    "section",
    { class: "secret", "data-secret": String(t.id), "aria-label": "New pull token" },
    h("h3", {}, `Pull token “${t.name}”`),
    h(
      "p",
      { class: "warning" },
      "Copy it now: this is the only time the mirror shows it. It keeps only a hash, so a lost token cannot be " +
        "shown again — make a new one and revoke the old.",
    ),
    once("Token", t.secret, "secret"),
    t.personal ? once("Personal mirror address", t.personal.url, "personal") : null,
    h(
      "p",
      {},
      "The Setup page now fills in this token for your clients; ",
      h("a", { href: "#/setup" }, "open it"),
      ".",
    ),
  );
}

export function signInPage(account: Account): Page {
  const f = form(
    "Sign in",
    [
      field("name", "User name", "text", "username"),
      field("password", "Password", "password", "current-password"),
    ],
    async (f) => {
      await account.signIn(value(f, "name"), value(f, "password"));
      location.hash = "#/me";
    },
  );
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in"),
    f,
    account.settings.signup !== "closed"
      ? h("p", {}, "No account? ", h("a", { href: "#/signup" }, "Sign up"))
      : null,
  );
  return { el, stats: false };
}

export function signUpPage(account: Account): Page {
  const done = h("div", {});
  const fields = [
    field("name", "User name", "text", "username"),
    field("password", "Password", "password", "new-password"),
  ];
  if (account.settings.signup === "invite") fields.push(field("invite", "Invite code", "text", "off"));
  const f = form("Sign up", fields, async (f) => {
    const invite = account.settings.signup === "invite" ? value(f, "invite") : undefined;
    const token = await account.signUp(value(f, "name"), value(f, "password"), invite);
    f.hidden = true;
    done.replaceChildren(
      h("p", {}, `Welcome, ${account.me?.user.name}. Your first pull token:`),
      secretBox(token),
    );
  });
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "signup-title" },
    h("h2", { id: "signup-title" }, "Sign up"),
    account.settings.signup === "closed"
      ? h("p", {}, "Sign-up is closed on this mirror: ask its operator for an account.")
      : f,
    done,
  );
  return { el, stats: false };
}
