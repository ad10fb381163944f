import type { ImageFigures, Stats } from "../api.js";
import { fill, h, table } from "../dom.js";
import { formatBytes, formatCount, formatTime, shortDigest } from "../format.js";
import { type Page, RANGE_TITLES } from "./page.js";

const DAY_MS = 86_400_000;

function ranking(label: string, rows: ImageFigures[], first: "pulls" | "bytes"): HTMLElement {
  const head =
    first === "pulls" ? ["#", "Image", "Pulls", "Bytes served"] : ["#", "Image", "Bytes served", "Pulls"];
  return table(
    label,
    head,
    rows.map((r, i) => {
      const pulls = formatCount(r.pulls);
      const bytes = formatBytes(r.bytes);
      return [String(i + 1), r.image, first === "pulls" ? pulls : bytes, first === "pulls" ? bytes : pulls];
    }),
    "No pulls in this range yet.",
  );
}

/** Top images, the clients that asked, and the last requests. */
export function activityPage(): Page {
  const heading = h("h2", { id: "activity-title" }, "Top images and activity");
  const byPulls = h("div", {});
  const byBytes = h("div", {});
  const clients = h("div", {});
  const recent = h("div", {});
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "activity-title" },
    heading,
    h(
      "div",
      { class: "columns" },
      h("section", { "data-section": "by-pulls" }, h("h3", {}, "Top images by pulls"), byPulls),
      h("section", { "data-section": "by-bytes" }, h("h3", {}, "Top images by bytes"), byBytes),
    ),
    h("section", { "data-section": "clients" }, h("h3", {}, "Requests by client"), clients),
    h("section", { "data-section": "recent" }, h("h3", {}, "Recent activity"), recent),
  );
  return {
    el,
    stats: true,
    update(s: Stats, now: number) {
      heading.textContent = `Top images and activity — ${RANGE_TITLES[s.range] ?? s.range}`;
      fill(byPulls, ranking("Top images by pulls", s.topImages.byPulls, "pulls"));
      fill(byBytes, ranking("Top images by bytes", s.topImages.byBytes, "bytes"));
      const kinds = Object.entries(s.clients).filter(([, n]) => n > 0);
      fill(
        clients,
        table(
          "Requests by client",
          ["Client", "Requests"],
          kinds.sort((a, b) => b[1] - a[1]).map(([kind, n]) => [kind, formatCount(n)]),
          "No requests in this range yet.",
        ),
      );
      fill(
        recent,
        table(
          "Recent activity",
          ["Time", "Image", "Reference", "Kind", "Result", "Bytes", "Client", "Status"],
          s.recent.map((r) => [
            h("time", { datetime: new Date(r.t).toISOString() }, formatTime(r.t, now - r.t > DAY_MS)),
            r.image,
            h(
              "code",
              { title: r.reference },
              r.reference.includes(":") ? shortDigest(r.reference) : r.reference,
            ),
            r.kind,
            h("span", { class: `badge result-${r.result.replace(/[^a-z-]/g, "")}` }, r.result),
            formatBytes(r.bytes),
            r.client,
            String(r.status),
          ]),
          "No requests yet.",
        ),
      );
    },
  };
}
