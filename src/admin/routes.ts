import type { AdminRoute } from "./admin-api.js";
import { CACHE_ROUTES } from "./cache-routes.js";
import { VERIFY_ROUTES } from "./verify-routes.js";

/** Every admin route, one list per concern. */
export const ADMIN_ROUTES: readonly AdminRoute[] = [...CACHE_ROUTES, ...VERIFY_ROUTES];
