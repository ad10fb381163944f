import type { ServerResponse } from "node:http";
import { z } from "zod";
import type { AdminRoute } from "../admin/admin-api.js";
import { byteSize, duration } from "../config/values.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Query } from "../http/context.js";
import { utcDay } from "../metadata/user-store.js";
import type { ApiRoute } from "./api-router.js";
import { randomBase32, secretHash } from "./secrets.js";
import type { Users } from "./users.js";
import { daysParam, listedUserView, newTokenView, usageView, userView } from "./views.js";

/** One admin operation on users, mounted twice with one code path: `/api/…` (admin session) and `/admin/…`. */
interface AdminOp {
  method: "GET" | "POST" | "DELETE";
  path: string;
  handle: (r: { body: Record<string, unknown>; query: Query; res: ServerResponse }) => Promise<unknown>;
}

/** The body as `schema` wants it; REQUEST_INVALID naming the field otherwise. */
function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new RegistryError("REQUEST_INVALID", `${issue?.path.join(".") || "body"}: ${issue?.message}`);
}

const named = z.object({ name: z.string() });
const newUser = z.strictObject({
  name: z.string(),
  password: z.string().optional(),
  admin: z.boolean().default(false),
});
const quota = z.strictObject({
  name: z.string(),
  requestsPerMinute: z.number().int().nonnegative().nullable().optional(),
  bytesPerDay: byteSize.nullable().optional(),
});
const newInvite = z.strictObject({ expires: duration.prefault("7d") });
const INVITE_MAX_MS = 90 * 86_400_000;

function userAdminOps(u: Users): AdminOp[] {
  const setDisabled =
    (disabled: boolean) =>
    async ({ body }: { body: Record<string, unknown> }) => ({
      user: userView(await u.accounts.update(parse(named, body).name, { disabled }), u.quota),
    });
  return [
    {
      method: "GET",
      path: "/users",
      handle: async () => {
        const activity = await u.store.activity(utcDay(Date.now()));
        const users = await u.store.listUsers();
        return { users: users.map((user) => listedUserView(user, u.quota, activity.get(user.id))) };
      },
    },
    {
      method: "POST",
      path: "/users",
      handle: async ({ body, res }) => {
        const b = parse(newUser, body);
        const account = await u.accounts.add(b.name, b.password, b.admin);
        return {
          user: userView(account.user, u.quota),
          ...(account.password ? { password: account.password } : {}),
          token: newTokenView(account.token, res.req, u.pub),
        };
      },
    },
    { method: "POST", path: "/users/disable", handle: setDisabled(true) },
    { method: "POST", path: "/users/enable", handle: setDisabled(false) },
    {
      method: "POST",
      path: "/users/quota",
      handle: async ({ body }) => {
        const { name, ...limits } = parse(quota, body);
        return { user: userView(await u.accounts.update(name, limits), u.quota) };
      },
    },
    {
      method: "POST",
      path: "/users/reset-token",
      handle: async ({ body, res }) => {
        const user = await u.accounts.user(parse(named, body).name);
        const token = await u.tokens.reset(user.id);
        return { user: userView(user, u.quota), token: newTokenView(token, res.req, u.pub) };
      },
    },
    {
      method: "GET",
      path: "/users/stats",
      handle: async ({ query }) =>
        usageView(u.store, u.quota, await u.accounts.user(query.get("name")), daysParam(query.get("days"))),
    },
    {
      method: "GET",
      path: "/invites",
      handle: async () => ({
        invites: (await u.store.listInvites()).map((i) => ({
          ...i,
          createdAt: new Date(i.createdAt).toISOString(),
          expiresAt: new Date(i.expiresAt).toISOString(),
          usedBy: i.usedBy ?? null,
        })),
      }),
    },
    {
      method: "POST",
      path: "/invites",
      handle: async ({ body }) => {
        const { expires } = parse(newInvite, body);
        if (expires <= 0 || expires > INVITE_MAX_MS)
          throw new RegistryError("REQUEST_INVALID", "expires: 1ms to 90d");
        const code = randomBase32(10);
        const invite = await u.store.createInvite({
          hash: secretHash(code),
          hint: code.slice(0, 4),
          expiresAt: Date.now() + expires,
        });
        return { invite: { id: invite.id, code, expiresAt: new Date(invite.expiresAt).toISOString() } };
      },
    },
    {
      method: "DELETE",
      path: "/invites",
      handle: async ({ body }) => {
        const { id } = parse(z.object({ id: z.number().int() }), body);
        if (!(await u.store.deleteInvite(id))) throw new RegistryError("NOT_FOUND", `no invite ${id}`);
        return { deleted: id };
      },
    },
  ];
}

/** The admin operations for a signed-in admin: `/api/users…`, `/api/invites…`. */
export function apiAdminRoutes(u: Users): ApiRoute[] {
  return userAdminOps(u).map((op) => ({
    method: op.method,
    path: `/api${op.path}`,
    access: "admin",
    handle: ({ ctx, body, query }) => op.handle({ body, query, res: ctx.res }),
  }));
}

/** The same operations on the admin API (`/admin/users…`, loopback or admin.token), for `hubmirror users`. */
export function adminApiRoutes(u: Users): AdminRoute[] {
  return userAdminOps(u).map((op) => ({ method: op.method, path: `/admin${op.path}`, handle: op.handle }));
}
