import { RegistryError } from "../errors/oci-errors.js";
import type { AdminRoute } from "./admin-api.js";
import { streamEvents } from "./respond.js";

/** An optional boolean field of a JSON body (false when absent). */
function flag(body: Record<string, unknown>, name: string): boolean {
  const v = body[name] ?? false;
  if (typeof v !== "boolean")
    throw new RegistryError(
      "REQUEST_INVALID",
      `expected "${name}" to be true or false, got ${JSON.stringify(v).slice(0, 100)}`,
    );
  return v;
}

/**
 * `POST /admin/verify {"repair": bool}`: re-hashes the stored content, streamed as progress and bad-object events
 * and the report (`done`). The caller going away stops the walk.
 */
export const VERIFY_ROUTES: AdminRoute[] = [
  {
    method: "POST",
    path: "/admin/verify",
    handle: async ({ lifecycle, body, res }) => {
      const repair = flag(body, "repair");
      await streamEvents(res, async ({ send, signal }) => ({
        ...(await lifecycle.verifier.run({ repair, signal, onEvent: send })),
      }));
      return undefined;
    },
  },
];
