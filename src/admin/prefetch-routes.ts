import { RegistryError } from "../errors/oci-errors.js";
import { parsePlatform } from "../lifecycle/platforms.js";
import type { AdminRoute } from "./admin-api.js";
import { streamEvents } from "./respond.js";

/** A list of strings in a JSON body; `required` also refuses an empty one. */
function strings(body: Record<string, unknown>, name: string, required: boolean): string[] {
  const v = body[name] ?? (required ? undefined : []);
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string") || (required && v.length === 0)) {
    throw new RegistryError(
      "REQUEST_INVALID",
      `expected "${name}" to be a ${required ? "non-empty " : ""}list of strings`,
    );
  }
  return v as string[];
}

/**
 * `POST /admin/prefetch {images, platforms?}`: the prefetch's events as JSON lines, then its summary as `done`.
 * A bad platform is refused up front (400); a bad image reference fails that image only, in the stream.
 */
export const PREFETCH_ROUTES: AdminRoute[] = [
  {
    method: "POST",
    path: "/admin/prefetch",
    handle: async ({ lifecycle, body, res }) => {
      const images = strings(body, "images", true);
      const platforms = strings(body, "platforms", false).map(parsePlatform);
      await streamEvents(res, (events) =>
        lifecycle.prefetcher.run({ images, platforms, signal: events.signal, onEvent: events.send }),
      );
      return undefined;
    },
  },
];
