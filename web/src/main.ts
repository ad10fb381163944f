import "./style.css";
import { Account } from "./account.js";
import { fetchStats, RANGES, type Range, type Stats } from "./api.js";
import { h } from "./dom.js";
import { formatTime } from "./format.js";
import { activityPage } from "./pages/activity.js";
import { myMirrorPage, myStatsPage } from "./pages/my-mirror.js";
import { overviewPage } from "./pages/overview.js";
import type { Page } from "./pages/page.js";
import { setupPage } from "./pages/setup.js";
import { signInPage, signUpPage } from "./pages/sign.js";
import { usersPage } from "./pages/users.js";
import { setupGuides } from "./snippets.js";

const REFRESH_MS = 10_000;
const RANGE_KEY = "hubmirror.range";
const RANGE_LABELS: Record<Range, string> = { "1h": "1 h", "24h": "24 h", "30d": "30 d" };

const account = new Account();

interface PageSpec {
  title: string;
  make: () => Page;
  /** Listed in the navigation; the others are reached by links. */
  nav: boolean;
}

/** Hash routes: the server serves one index.html, and every page is a fragment of it. Users mode adds its own. */
function pages(): Record<string, PageSpec> {
  const p: Record<string, PageSpec> = {
    "#/": { title: "Overview", make: overviewPage, nav: true },
    "#/activity": { title: "Top images and activity", make: activityPage, nav: true },
    "#/setup": { title: "Setup", make: () => setupPage(setupGuides, account), nav: true },
  };
  if (!account.users) return p;
  const signedIn = account.me !== undefined;
  p["#/me"] = { title: "My mirror", make: () => myMirrorPage(account), nav: signedIn };
  p["#/my-stats"] = { title: "My statistics", make: () => myStatsPage(account), nav: signedIn };
  // Admins only: the API refuses others (403) whatever the page does.
  if (account.me?.user.admin) p["#/users"] = { title: "Users", make: () => usersPage(account), nav: true };
  p["#/signin"] = { title: "Sign in", make: () => signInPage(account), nav: !signedIn };
  p["#/signup"] = {
    title: "Sign up",
    make: () => signUpPage(account),
    nav: !signedIn && account.settings.signup !== "closed",
  };
  return p;
}

function storedRange(): Range {
  const r = localStorage.getItem(RANGE_KEY);
  return RANGES.includes(r as Range) ? (r as Range) : "24h";
}

class ConsoleApp {
  private range = storedRange();
  private page: Page | undefined;
  private stats: Stats | undefined;
  private loading: AbortController | undefined;
  private pages = pages();
  private readonly nav = h("nav", { "aria-label": "Pages" });
  private readonly who = h("div", { class: "who" });
  private readonly rangeSwitch = h("div", { class: "range", role: "group", "aria-label": "Time range" });
  private readonly updated = h("span", { class: "updated", "aria-live": "off" });
  private readonly banner = h("div", { class: "banner", role: "alert", hidden: true });
  private readonly main = h("main", { id: "main" });

  async start(): Promise<void> {
    // In anonymous mode (or if the mirror is down) the statistics pages still work.
    await account.load().catch(() => {});
    this.pages = pages();
    this.fillNav();
    account.onChange(() => {
      this.pages = pages();
      this.fillNav();
      this.markNav();
    });
    for (const r of RANGES) {
      const b = h("button", { type: "button", "data-range": r }, RANGE_LABELS[r]);
      b.addEventListener("click", () => this.setRange(r));
      this.rangeSwitch.append(b);
    }
    document.body.append(
      h(
        "header",
        {},
        h("a", { class: "brand", href: "#/" }, "hubmirror"),
        this.nav,
        h("div", { class: "controls" }, this.rangeSwitch, this.updated, this.who),
      ),
      this.banner,
      this.main,
    );
    this.markRange();
    window.addEventListener("hashchange", () => this.route());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) void this.refresh();
    });
    setInterval(() => {
      if (!document.hidden) void this.refresh();
    }, REFRESH_MS);
    this.route();
  }

  private fillNav(): void {
    this.nav.replaceChildren(
      ...Object.entries(this.pages)
        .filter(([, p]) => p.nav)
        .map(([hash, p]) => h("a", { href: hash }, p.title)),
    );
    this.who.replaceChildren();
    if (!account.me) return;
    const out = h("button", { type: "button", class: "chip" }, "Sign out");
    out.addEventListener("click", () => {
      account.signOut().then(
        () => {
          location.hash = "#/signin";
        },
        (err: Error) => this.showError(`Cannot sign out: ${err.message}`),
      );
    });
    this.who.append(h("span", { class: "user" }, account.me.user.name), out);
  }

  private markNav(): void {
    const hash = this.pages[location.hash] ? location.hash : "#/";
    for (const a of this.nav.querySelectorAll("a")) {
      if (a.getAttribute("href") === hash) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  private route(): void {
    const hash = this.pages[location.hash] ? location.hash : "#/";
    const spec = this.pages[hash];
    if (!spec) return;
    this.page?.destroy?.();
    this.page = spec.make();
    this.main.replaceChildren(this.page.el);
    document.title = `${spec.title} · hubmirror`;
    this.markNav();
    this.rangeSwitch.hidden = !this.page.stats;
    this.updated.hidden = !this.page.stats;
    if (!this.page.stats) this.showError(undefined);
    else if (this.stats?.range === this.range) this.page.update?.(this.stats, Date.now());
    void this.refresh();
  }

  private setRange(r: Range): void {
    this.range = r;
    localStorage.setItem(RANGE_KEY, r);
    this.markRange();
    void this.refresh();
  }

  private markRange(): void {
    for (const b of this.rangeSwitch.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.range === this.range));
    }
  }

  /** Loads the figures for the current range; a newer load supersedes one still running. */
  private async refresh(): Promise<void> {
    const page = this.page;
    if (!page?.stats) return;
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    try {
      const stats = await fetchStats(this.range, loading.signal);
      if (loading.signal.aborted || page !== this.page) return;
      this.stats = stats;
      page.update?.(stats, Date.now());
      this.updated.textContent = `Updated ${formatTime(Date.now())}`;
      this.showError(undefined);
    } catch (err) {
      if (loading.signal.aborted) return;
      this.showError(`Cannot load the statistics: ${(err as Error).message}`);
    }
  }

  private showError(message: string | undefined): void {
    this.banner.hidden = message === undefined;
    this.banner.textContent = message ?? "";
  }
}

void new ConsoleApp().start();
