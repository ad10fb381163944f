import type { Stats } from "../api.js";
import { TimeChart } from "../charts.js";
import { fill, h, table } from "../dom.js";
import {
  bucketName,
  formatAgo,
  formatBytes,
  formatCount,
  formatRatio,
  formatSpeed,
  shortDigest,
} from "../format.js";
import { type Page, RANGE_TITLES } from "./page.js";

interface Tile {
  id: string;
  label: string;
  value: (s: Stats) => string;
  detail: (s: Stats) => string;
}

const TILES: Tile[] = [
  {
    id: "pulls",
    label: "Pulls",
    value: (s) => formatCount(s.totals.pulls),
    detail: (s) =>
      `${formatCount(s.totals.manifestRequests)} manifest and ${formatCount(s.totals.blobRequests)} blob requests`,
  },
  {
    id: "served",
    label: "Served",
    value: (s) => formatBytes(s.totals.servedBytes),
    detail: () => "to clients",
  },
  {
    id: "upstream",
    label: "From upstream",
    value: (s) => formatBytes(s.totals.upstreamBytes),
    detail: () => "downloaded to fill the cache",
  },
  {
    id: "saved",
    label: "Bandwidth saved",
    value: (s) => formatBytes(s.totals.savedBytes),
    detail: (s) =>
      s.totals.servedBytes > 0
        ? `${formatRatio(s.totals.savedBytes / s.totals.servedBytes)} of the bytes served`
        : "nothing served yet",
  },
  {
    id: "hit-ratio",
    label: "Hit ratio",
    value: (s) => formatRatio(s.totals.hitRatio),
    detail: (s) => `${formatCount(s.totals.hits)} hits, ${formatCount(s.totals.misses)} misses`,
  },
  {
    id: "cache",
    label: "Cache size",
    value: (s) => formatBytes(s.cache.bytes),
    detail: (s) =>
      `${formatCount(s.cache.objects)} objects${s.cache.maxSize ? ` of ${formatBytes(s.cache.maxSize)} max` : ""}`,
  },
  {
    id: "avg-speed",
    label: "Average speed",
    value: (s) => formatSpeed(s.totals.avgSpeed),
    detail: () => "of blob downloads",
  },
  {
    id: "peak-speed",
    label: "Peak speed",
    value: (s) => formatSpeed(s.totals.peakSpeed),
    detail: () => "the fastest blob download",
  },
  {
    id: "users",
    label: "Users",
    value: (s) => formatCount(s.users.registered),
    detail: (s) => `registered, ${formatCount(s.users.active)} active`,
  },
];

function progress(received: number, size: number | null): HTMLElement {
  if (!size) return h("span", {}, h("progress", { "aria-label": "received" }), ` ${formatBytes(received)}`);
  return h(
    "span",
    {},
    h("progress", { value: String(received), max: String(size), "aria-label": "received" }),
    ` ${formatBytes(received)} of ${formatBytes(size)} (${formatRatio(received / size)})`,
  );
}

function quota(remaining: number | null, limit: number | null): string {
  if (remaining == null) return "—";
  return limit == null ? formatCount(remaining) : `${formatCount(remaining)} of ${formatCount(limit)}`;
}

export function overviewPage(): Page {
  const heading = h("h2", { id: "overview-title" }, "Overview");
  const tiles = TILES.map((t) => {
    const value = h("p", { class: "value" }, "—");
    const detail = h("p", { class: "detail" }, "");
    const el = h("div", { class: "tile", "data-tile": t.id }, h("h3", {}, t.label), value, detail);
    return { t, el, value, detail };
  });
  const charts = {
    pulls: new TimeChart({
      id: "pulls",
      series: [{ label: "Pulls", colorVar: "--c1", bars: true }],
      value: (v) => formatCount(v),
      integer: true,
    }),
    traffic: new TimeChart({
      id: "traffic",
      series: [
        { label: "Served", colorVar: "--c1" },
        { label: "From upstream", colorVar: "--c2" },
      ],
      value: (v) => formatBytes(v),
    }),
    hitRatio: new TimeChart({
      id: "hit-ratio",
      series: [{ label: "Hit ratio", colorVar: "--c3" }],
      value: (v) => formatRatio(v),
      // A little headroom: a line at 100 % would be cut in half by the plot's edge.
      range: [0, 1.02],
    }),
  };
  const inFlight = h("div", {});
  const upstreams = h("div", {});
  const el = h(
    "section",
    { class: "page", "aria-labelledby": "overview-title" },
    heading,
    h("div", { class: "tiles" }, ...tiles.map((t) => t.el)),
    h("div", { class: "charts" }, charts.pulls.el, charts.traffic.el, charts.hitRatio.el),
    h(
      "div",
      { class: "columns" },
      h("section", { "data-section": "in-flight" }, h("h3", {}, "Downloads in progress"), inFlight),
      h("section", { "data-section": "upstreams" }, h("h3", {}, "Upstream health"), upstreams),
    ),
  );

  return {
    el,
    stats: true,
    update(s, now) {
      heading.textContent = `Overview — ${RANGE_TITLES[s.range] ?? s.range}`;
      for (const { t, value, detail } of tiles) {
        value.textContent = t.value(s);
        detail.textContent = t.detail(s);
      }
      const per = bucketName(s.bucketMs);
      const x = s.series.map((b) => b.t);
      charts.pulls.update(`Pulls per ${per}`, x, [s.series.map((b) => b.pulls)]);
      charts.traffic.update(`Traffic per ${per}`, x, [
        s.series.map((b) => b.servedBytes),
        s.series.map((b) => b.upstreamBytes),
      ]);
      charts.hitRatio.update(`Hit ratio per ${per}`, x, [s.series.map((b) => b.hitRatio)]);
      fill(
        inFlight,
        table(
          "Downloads in progress",
          ["Image", "Digest", "Received"],
          s.inFlight.map((d) => [
            `${d.registry}/${d.repo}`,
            h("code", { title: d.digest }, shortDigest(d.digest)),
            progress(d.received, d.size),
          ]),
          "No downloads in progress.",
        ),
      );
      fill(
        upstreams,
        table(
          "Upstream health",
          ["Registry", "URL", "State", "Quota left", "Updated"],
          s.upstreams.map((u) => [
            u.registry,
            u.url,
            h("span", { class: `badge state-${u.state.replace(/[^a-z-]/g, "")}` }, u.state),
            quota(u.rateLimitRemaining, u.rateLimitLimit),
            u.updatedAt ? formatAgo(u.updatedAt, now) : "—",
          ]),
          "No upstream has answered yet.",
        ),
      );
    },
    destroy() {
      for (const c of Object.values(charts)) c.destroy();
    },
  };
}
