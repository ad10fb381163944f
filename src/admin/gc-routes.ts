import { RegistryError } from "../errors/oci-errors.js";
import { type AdminRoute, field } from "./admin-api.js";
import { streamEvents } from "./respond.js";

/** Garbage collection (streamed: a phase event per step, the report as `done`) and purge. */
export const GC_ROUTES: AdminRoute[] = [
  {
    method: "POST",
    path: "/admin/gc",
    handle: async ({ lifecycle, body, res }) => {
      const dryRun = body.dryRun ?? false;
      if (typeof dryRun !== "boolean")
        throw new RegistryError("REQUEST_INVALID", `expected a boolean "dryRun"`);
      await streamEvents(res, async (events) => {
        const report = await lifecycle.gc.run({
          dryRun,
          trigger: "admin",
          signal: events.signal,
          onPhase: (phase) => events.send({ type: "phase", phase }),
        });
        return { ...report };
      });
      return undefined;
    },
  },
  {
    method: "POST",
    path: "/admin/purge",
    handle: ({ lifecycle, body }) => {
      const image = lifecycle.resolve(field(body, "image"));
      return lifecycle.purger.purge(image.key, image.reference);
    },
  },
];
