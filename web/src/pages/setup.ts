import type { Account } from "../account.js";
import { copyText } from "../clipboard.js";
import { fill, h } from "../dom.js";
import {
  type Credentials,
  type Guide,
  isLoopback,
  type MirrorAddress,
  parseAddress,
  type Step,
} from "../snippets.js";
import type { Page } from "./page.js";

function codeBlock(step: Step, announce: (text: string) => void): HTMLElement | undefined {
  if (step.code === undefined) return undefined;
  const code = step.code;
  const what = step.file ?? "the commands";
  const button = h("button", { type: "button", class: "copy", "aria-label": `Copy ${what}` }, "Copy");
  button.addEventListener("click", () => {
    copyText(code).then(
      () => {
        button.textContent = "Copied";
        announce(`Copied ${what}.`);
        setTimeout(() => {
          button.textContent = "Copy";
        }, 2000);
      },
      (err: Error) => announce(`Could not copy: ${err.message}. Select the text and copy it by hand.`),
    );
  });
  return h(
    "div",
    { class: "snippet", ...(step.file ? { "data-file": step.file } : {}) },
    h("div", { class: "snippet-head" }, h("span", { class: "file" }, step.file ?? "shell"), button),
    h("pre", {}, h("code", {}, code)),
  );
}

function guideSection(g: Guide, announce: (text: string) => void): HTMLElement {
  return h(
    "section",
    { class: "guide", "data-guide": g.id, "aria-labelledby": `guide-${g.id}` },
    h("h3", { id: `guide-${g.id}`, tabindex: "-1" }, g.title),
    h("p", {}, g.intro),
    h("ol", {}, ...g.steps.map((s) => h("li", {}, h("p", {}, s.text), codeBlock(s, announce)))),
  );
}

/** Scrolls to a guide: hash links would change the page, since the hash is the console's route. */
function jumpButton(g: Guide): HTMLElement {
  const b = h("button", { type: "button", class: "chip" }, g.title);
  b.addEventListener("click", () => {
    const target = document.getElementById(`guide-${g.id}`);
    target?.scrollIntoView({ behavior: "smooth", block: "start" });
    target?.focus({ preventScroll: true });
  });
  return b;
}

/** Users mode: the credentials of the token made in this page session, and what the page says about them. */
function personal(account: Account | undefined): { cred?: Credentials; note?: HTMLElement } {
  if (!account?.users) return {};
  const { me, fresh } = account;
  if (!me) {
    const note = h(
      "p",
      { class: "note" },
      "Pulls need an account here: ",
      h("a", { href: "#/signin" }, "sign in"),
    );
    return { note };
  }
  if (!fresh) {
    const note = h(
      "p",
      { class: "note", "data-personal": "none" },
      "The mirror shows a pull token only once, when it is made: ",
      h("a", { href: "#/me" }, "create one on My mirror"),
      " and this page fills in your personal address and credentials.",
    );
    return { note };
  }
  const cred = {
    user: me.user.name,
    secret: fresh.secret,
    personal: parseAddress(fresh.personal?.url ?? ""),
  };
  const note = h(
    "p",
    { class: "note", "data-personal": cred.personal?.url ?? "" },
    `Filled in for ${me.user.name} with the pull token “${fresh.name}”`,
    cred.personal ? `; your personal address is ${cred.personal.url}.` : ".",
  );
  return { cred, note };
}

/** Copy-paste client configuration for this mirror's address (the page's origin, or one typed in). */
export function setupPage(
  guides: (a: MirrorAddress, cred?: Credentials) => Guide[],
  account?: Account,
): Page {
  const { cred, note } = personal(account);
  const own = parseAddress(location.origin);
  const input = h("input", {
    id: "mirror-address",
    type: "text",
    value: own?.url ?? "",
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "address-hint",
  });
  const hint = h("p", { id: "address-hint", class: "hint" });
  const live = h("p", { class: "sr-status", role: "status", "aria-live": "polite" });
  const body = h("div", {});
  const jump = h("nav", { class: "jump", "aria-label": "Clients" });
  const announce = (text: string) => {
    live.textContent = text;
  };
  const render = () => {
    const a = parseAddress(input.value, own?.insecure === false ? "https:" : "http:");
    input.setAttribute("aria-invalid", String(!a));
    if (!a) {
      hint.textContent = "Enter the mirror's address as clients reach it, e.g. http://mirror.example:5000.";
      return;
    }
    hint.textContent = isLoopback(a)
      ? "This is a loopback address: only this machine reaches it. Enter the name other machines use."
      : "Clients reach the mirror at this address; change it if they use another name.";
    const list = guides(a, cred);
    fill(jump, ...list.map((g) => jumpButton(g)));
    fill(body, ...list.map((g) => guideSection(g, announce)));
  };
  input.addEventListener("input", render);
  render();
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "setup-title" },
    h("h2", { id: "setup-title" }, "Setup"),
    h(
      "p",
      {},
      "Point your container runtimes at this mirror: each Docker Hub pull then goes through it, and every layer is " +
        "downloaded from Docker Hub only once.",
    ),
    note,
    h("div", { class: "address" }, h("label", { for: "mirror-address" }, "Mirror address"), input, hint),
    jump,
    live,
    body,
  );
  return { el, stats: false };
}
