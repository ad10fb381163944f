import type { AdminRoute } from "./admin-api.js";

/** Eviction and retention on demand: each runs now (after a run under way) and answers what it removed. */
export const EVICTION_ROUTES: AdminRoute[] = [
  { method: "POST", path: "/admin/evict", handle: ({ lifecycle }) => lifecycle.evictor.run() },
  { method: "POST", path: "/admin/retention", handle: ({ lifecycle }) => lifecycle.retention.run() },
];
