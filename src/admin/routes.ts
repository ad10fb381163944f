import type { AdminRoute } from "./admin-api.js";
import { CACHE_ROUTES } from "./cache-routes.js";
import { EVICTION_ROUTES } from "./eviction-routes.js";
import { GC_ROUTES } from "./gc-routes.js";
import { PREFETCH_ROUTES } from "./prefetch-routes.js";
import { VERIFY_ROUTES } from "./verify-routes.js";

/** Every admin route, one list per concern. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [
  ...CACHE_ROUTES,
  ...EVICTION_ROUTES,
  ...GC_ROUTES,
  ...PREFETCH_ROUTES,
  ...VERIFY_ROUTES,
];
