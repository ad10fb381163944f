import { type AdminRoute, field } from "./admin-api.js";

/** Cache status and pins. */
export const CACHE_ROUTES: AdminRoute[] = [
  { method: "GET", path: "/admin/cache", handle: ({ lifecycle }) => lifecycle.status() },
  {
    method: "GET",
    path: "/admin/pins",
    handle: async ({ lifecycle }) => ({ pins: await lifecycle.pins.list() }),
  },
  {
    method: "POST",
    path: "/admin/pins",
    handle: ({ lifecycle, body }) => lifecycle.pin(field(body, "image")),
  },
  {
    method: "DELETE",
    path: "/admin/pins",
    handle: ({ lifecycle, body }) => lifecycle.unpin(field(body, "image")),
  },
];
