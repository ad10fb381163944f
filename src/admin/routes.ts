import type { AdminRoute } from "./admin-api.js";
import { CACHE_ROUTES } from "./cache-routes.js";
import { EVICTION_ROUTES } from "./eviction-routes.js";
import { PREFETCH_ROUTES } from "./prefetch-routes.js";

/** Every admin route, one list per concern. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [...CACHE_ROUTES, ...EVICTION_ROUTES, ...PREFETCH_ROUTES];
