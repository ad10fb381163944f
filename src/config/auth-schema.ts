import { z } from "zod";
import { byteSize, duration, httpUrl } from "./values.js";

/** A DNS name under which every user's personal mirror host `<pull token>.<domain>` lives. */
const domainName = z
  .string()
  .regex(
    /^(?=.{1,190}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
    'expected a lowercase DNS name like "mirror.example" (no scheme, no port)',
  );

const perMinute = z.number().int().nonnegative();

/** Users mode: accounts, pull tokens, personal addresses, quotas. Off by default: a public anonymous mirror. */
export const authSchema = z
  .strictObject({
    /** anonymous: anyone may pull; users: every /v2/ request needs a user (pull token, Basic or Bearer). */
    mode: z.enum(["anonymous", "users"]).default("anonymous"),
    /** Who may create an account: anyone (open), holders of an admin's invite code (invite), nobody (closed). */
    signup: z.enum(["open", "invite", "closed"]).default("invite"),
    /** Personal mirror hosts are `<pull token>.<domain>`: a wildcard DNS name pointing at this mirror. */
    domain: domainName.optional(),
    /**
     * The mirror's public URL (`https://mirror.example`), when it is behind a TLS proxy: the token realm, the
     * addresses shown to users, and `Secure` cookies follow it. Without it, the request's own Host is used.
     */
    url: httpUrl.optional(),
    quota: z
      .strictObject({
        /** Default registry requests per minute per user; 0: no limit. */
        requestsPerMinute: perMinute.default(0),
        /** Default bytes served per user per day (UTC); 0: no limit. */
        bytesPerDay: byteSize.default(0),
      })
      .prefault({}),
    /** How long a console sign-in lasts. */
    sessionLifetime: duration.prefault("7d"),
    /** How long a bearer token from the mirror's /token endpoint is valid. */
    tokenLifetime: duration.prefault("5m"),
    login: z
      .strictObject({
        /** Sign-in and sign-up attempts per minute from one address. */
        perAddress: perMinute.min(1).default(20),
        /** Failed sign-ins per minute for one account. */
        perAccount: perMinute.min(1).default(5),
      })
      .prefault({}),
  })
  .prefault({});

export type AuthConfig = z.output<typeof authSchema>;
