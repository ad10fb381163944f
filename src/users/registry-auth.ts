import type { IncomingMessage } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";
import type { Middleware } from "../http/compose.js";
import type { RequestContext } from "../http/context.js";
import type { PullTokenRecord, UserRecord } from "../metadata/user-store.js";
import { mirrorOrigin, personalLabel } from "./origin.js";
import type { Users } from "./users.js";

export const SERVICE = "hubmirror";

export interface Credential {
  user: UserRecord;
  token: PullTokenRecord;
}

/** `Basic base64(user:secret)` → its parts; undefined when the header is something else or malformed. */
export function basicCredentials(header: string | undefined): { name: string; secret: string } | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { name: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

const unauthorized = (message: string) => new RegistryError("UNAUTHORIZED", message);

/**
 * Users mode's gate on the registry API: every `/v2/` request must name a user, by (in this order) an
 * `Authorization` header — `Basic user:pulltoken`, or `Bearer` with a token from this mirror's `/token` — or a
 * personal Host `<pulltoken>.<auth.domain>` (what dockerd's registry-mirrors can carry). Each request looks the
 * token and user up (an indexed read, no cache), so a disabled user or a reset token is refused at once.
 */
export class RegistryAuth {
  constructor(private readonly u: Users) {}

  /** The user whose name and pull token these are; UNAUTHORIZED otherwise. */
  async byPassword(name: string, secret: string): Promise<Credential> {
    const found = await this.u.tokens.bySecret(secret);
    if (!found || found.user.name !== name.toLowerCase()) throw unauthorized("wrong user name or pull token");
    return found;
  }

  /** The request's credential; undefined when it carries none; UNAUTHORIZED when it carries a wrong one. */
  async identify(req: IncomingMessage): Promise<Credential | undefined> {
    const auth = req.headers.authorization;
    if (auth) {
      const basic = basicCredentials(auth);
      if (basic) return this.byPassword(basic.name, basic.secret);
      if (!/^bearer /i.test(auth)) throw unauthorized("expected Basic or Bearer credentials");
      const claims = this.u.bearer.verify(auth.slice(7).trim());
      const found = claims && (await this.u.store.pullTokenById(claims.tokenId));
      if (!found || found.user.id !== claims?.userId) throw unauthorized("invalid or expired token");
      return found;
    }
    const label = personalLabel(req.headers.host, this.u.config.domain);
    if (label === undefined) return undefined;
    const found = await this.u.tokens.bySecret(label);
    if (!found)
      throw unauthorized(`${label.slice(0, 8)}….${this.u.config.domain} is no personal address here`);
    return found;
  }

  /** 401 with the challenge that sends Docker-style clients to this mirror's own token endpoint. */
  private challenge(ctx: RequestContext, err: RegistryError): RegistryError {
    const realm = `${mirrorOrigin(ctx.req, this.u.pub)}/token`;
    const scope =
      ctx.key && /^[a-z0-9._/-]+$/.test(ctx.rawName) ? `,scope="repository:${ctx.rawName}:pull"` : "";
    return new RegistryError("UNAUTHORIZED", err.message, undefined, {
      "WWW-Authenticate": `Bearer realm="${realm}",service="${SERVICE}"${scope}`,
    });
  }

  middleware(): Middleware<RequestContext> {
    return async (ctx, next) => {
      if (!ctx.path.startsWith("/v2")) return next(ctx);
      let found: Credential | undefined;
      try {
        found = await this.identify(ctx.req);
      } catch (err) {
        throw err instanceof RegistryError && err.code === "UNAUTHORIZED" ? this.challenge(ctx, err) : err;
      }
      if (!found)
        throw this.challenge(ctx, unauthorized("authentication required: sign in or use a pull token"));
      const { user } = found;
      if (user.disabled) throw new RegistryError("DENIED", `the account ${user.name} is disabled`);
      // The catalog lists what everyone pulled: other users' activity.
      if (ctx.route.name === "catalog" && !user.admin) {
        throw new RegistryError("DENIED", "in users mode the catalog is for admins");
      }
      await this.u.quota.admit(user);
      ctx.principal = { name: user.name, id: user.id, admin: user.admin };
      let ok = false;
      try {
        await next(ctx);
        ok = true;
      } finally {
        const pull = ok && ctx.route.name === "manifests" && !ctx.head && ctx.res.statusCode < 300;
        this.u.quota.record(user, { pull, bytes: ctx.res.bodyBytes });
      }
    };
  }
}
