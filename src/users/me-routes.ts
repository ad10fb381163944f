import { RegistryError } from "../errors/oci-errors.js";
import type { ApiRoute } from "./api-router.js";
import { checkTokenName } from "./pull-tokens.js";
import type { Session } from "./sessions.js";
import type { Users } from "./users.js";
import { daysParam, mirrorView, newTokenView, tokenView, usageView, userView } from "./views.js";

/** The signed-in user's own account: only ever their own tokens and figures (the session names the user). */
export function meRoutes(u: Users): ApiRoute[] {
  const me = (session: Session | undefined) => (session as Session).user;
  return [
    {
      // Signed out is an answer, not an error: `{"user": null}` (a 401 would be logged by browsers as a failure).
      method: "GET",
      path: "/api/me",
      access: "public",
      handle: async ({ ctx, session }) =>
        session
          ? {
              user: userView(session.user, u.quota),
              csrfToken: session.csrf,
              mirror: mirrorView(ctx.req, u.pub),
            }
          : { user: null },
    },
    {
      method: "GET",
      path: "/api/me/tokens",
      access: "user",
      handle: async ({ session }) => ({
        tokens: (await u.store.listPullTokens(me(session).id)).map(tokenView),
      }),
    },
    {
      method: "POST",
      path: "/api/me/tokens",
      access: "user",
      handle: async ({ ctx, body, session }) => {
        const token = await u.tokens.create(me(session).id, checkTokenName(body.name));
        return { token: newTokenView(token, ctx.req, u.pub) };
      },
    },
    {
      method: "DELETE",
      path: "/api/me/tokens",
      access: "user",
      handle: async ({ body, session }) => {
        const id = body.id;
        if (typeof id !== "number" || !(await u.store.deletePullToken(me(session).id, id))) {
          throw new RegistryError("NOT_FOUND", `you have no token ${JSON.stringify(id ?? null)}`);
        }
        return { deleted: id };
      },
    },
    {
      method: "POST",
      path: "/api/me/password",
      access: "user",
      handle: async ({ body, session }) => {
        const { user, hash } = session as Session;
        await u.accounts.changePassword(user, body.current, body.password);
        // Whoever else held a session (a stolen cookie, another browser) is signed out.
        await u.store.deleteSessions(user.id, hash);
        return { changed: true };
      },
    },
    {
      method: "GET",
      path: "/api/me/stats",
      access: "user",
      handle: async ({ query, session }) =>
        usageView(u.store, u.quota, me(session), daysParam(query.get("days"))),
    },
  ];
}
