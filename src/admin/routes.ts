import type { AdminRoute } from "./admin-api.js";
import { CACHE_ROUTES } from "./cache-routes.js";
import { GC_ROUTES } from "./gc-routes.js";

/** Every admin route, one list per concern. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [...CACHE_ROUTES, ...GC_ROUTES];
