import { sendAdminJson } from "../admin/respond.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Middleware } from "../http/compose.js";
import type { RequestContext, Route } from "../http/context.js";
import { basicCredentials, type RegistryAuth } from "./registry-auth.js";
import type { Users } from "./users.js";

const TOKEN_ROUTE: Route = {
  name: "token",
  methods: ["GET", "POST"],
  path: "/token",
  handle: async () => {},
};
const MAX_FORM = 16 << 10;

async function readForm(ctx: RequestContext): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(ctx.req.headers["content-type"] ?? "")) {
    throw new RegistryError("REQUEST_INVALID", "expected an application/x-www-form-urlencoded body");
  }
  let text = "";
  for await (const chunk of ctx.req) {
    text += (chunk as Buffer).toString("utf8");
    if (text.length > MAX_FORM) throw new RegistryError("REQUEST_INVALID", "form larger than 16 KiB");
  }
  return new URLSearchParams(text);
}

/**
 * The mirror's own token endpoint (Docker token authentication), so `docker login` / `podman login` to the
 * mirror work and clients that got the 401 challenge can come back with a bearer token. `GET /token` takes
 * `Basic user:pulltoken` (Docker, podman, containerd's fallback); `POST /token` the OAuth2 password grant that
 * containerd tries first. Passwords of console accounts are not accepted here: only pull tokens, so the registry
 * path never runs scrypt and a password guessed here could not be tried at the rate of a registry endpoint.
 * Tokens are not scoped: every user may pull everything the mirror serves.
 */
export function tokenEndpoint(u: Users, auth: RegistryAuth): Middleware<RequestContext> {
  return async (ctx, next) => {
    if (ctx.path !== "/token") return next(ctx);
    ctx.route = TOKEN_ROUTE;
    let name: string | undefined;
    let secret: string | undefined;
    if (ctx.req.method === "GET" || ctx.req.method === "HEAD") {
      ({ name, secret } = basicCredentials(ctx.req.headers.authorization) ?? {});
    } else if (ctx.req.method === "POST") {
      const form = await readForm(ctx);
      if (form.get("grant_type") !== "password") {
        throw new RegistryError(
          "REQUEST_INVALID",
          `unsupported grant_type ${form.get("grant_type")?.slice(0, 40)}`,
        );
      }
      name = form.get("username") ?? undefined;
      secret = form.get("password") ?? undefined;
    } else {
      throw new RegistryError("UNSUPPORTED", `${ctx.req.method} is not supported on /token`);
    }
    if (name === undefined || secret === undefined) {
      throw new RegistryError("UNAUTHORIZED", "log in with your user name and a pull token", undefined, {
        "WWW-Authenticate": 'Basic realm="hubmirror"',
      });
    }
    const { user, token } = await auth.byPassword(name, secret);
    if (user.disabled) throw new RegistryError("DENIED", `the account ${user.name} is disabled`);
    const issued = u.bearer.issue({ tokenId: token.id, userId: user.id });
    const body = { expires_in: issued.expiresIn, issued_at: issued.issuedAt };
    sendAdminJson(ctx.res, { token: issued.token, access_token: issued.token, ...body });
  };
}
