import { sendAdminJson } from "../admin/respond.js";
import type { ApiRoute } from "./api-router.js";
import type { Users } from "./users.js";
import { mirrorView, newTokenView, userView } from "./views.js";

/** Sign-up, sign-in, sign-out, and the settings the console needs before anyone signs in. */
export function authRoutes(u: Users): ApiRoute[] {
  return [
    {
      method: "GET",
      path: "/api/auth/settings",
      access: "public",
      handle: async () => ({ mode: u.config.mode, signup: u.config.signup, domain: u.config.domain ?? null }),
    },
    {
      method: "POST",
      path: "/api/auth/signup",
      access: "public",
      handle: async ({ ctx, body }) => {
        u.accounts.throttle(ctx.req.socket.remoteAddress ?? "");
        const { user, token } = await u.accounts.signUp(body);
        const csrfToken = await u.sessions.start(ctx.req, ctx.res, user);
        sendAdminJson(
          ctx.res,
          {
            user: userView(user, u.quota),
            csrfToken,
            token: newTokenView(token, ctx.req, u.pub),
            mirror: mirrorView(ctx.req, u.pub),
          },
          201,
        );
        return undefined;
      },
    },
    {
      method: "POST",
      path: "/api/auth/signin",
      access: "public",
      handle: async ({ ctx, body, session }) => {
        u.accounts.throttle(ctx.req.socket.remoteAddress ?? "");
        const user = await u.accounts.signIn(body.name, body.password);
        if (session) await u.sessions.end(ctx.req, ctx.res, session);
        const csrfToken = await u.sessions.start(ctx.req, ctx.res, user);
        return { user: userView(user, u.quota), csrfToken, mirror: mirrorView(ctx.req, u.pub) };
      },
    },
    {
      method: "POST",
      path: "/api/auth/signout",
      access: "user",
      handle: async ({ ctx, session }) => {
        await u.sessions.end(ctx.req, ctx.res, session);
        return { signedOut: true };
      },
    },
  ];
}
