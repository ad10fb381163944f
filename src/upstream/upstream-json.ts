import { z } from "zod";
import { UpstreamAnswerError } from "./bounded-read.js";

/**
 * A token server's answer (Docker's token spec; `access_token` is the OAuth2 spelling of `token`). The lifetime
 * counts from when we got it, not from `issued_at`, so a skewed upstream clock can't make a fresh token stale.
 */
export const TokenResponse = z
  .looseObject({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
    issued_at: z.string().optional(),
  })
  .transform((t, ctx) => {
    const token = t.token ?? t.access_token;
    if (token) return { token, expiresIn: t.expires_in };
    ctx.addIssue({ code: "custom", message: "no token" });
    return z.NEVER;
  });

const Descriptor = z.looseObject({ digest: z.string() });

/** The fields of an image manifest or index the proxy reads; everything else passes through untouched. */
export const ManifestJson = z.looseObject({
  mediaType: z.string().optional(),
  config: Descriptor.optional(),
  layers: z.array(Descriptor).optional(),
  manifests: z
    .array(
      Descriptor.extend({
        mediaType: z.string().optional(),
        // Lenient: a cache that refuses what upstream serves breaks pulls clients could otherwise do.
        platform: z
          .looseObject({ architecture: z.string().optional(), os: z.string().optional() })
          .optional(),
      }),
    )
    .optional(),
});
export type ManifestJson = z.infer<typeof ManifestJson>;

export const TagList = z.looseObject({
  name: z.string(),
  // Some registries answer null rather than [] for a repository without tags.
  tags: z.array(z.string()).nullable(),
});

export const ReferrersIndex = z.looseObject({ manifests: z.array(z.looseObject({})) });

/**
 * The JSON in `body` checked against `schema`. Bad JSON from upstream is upstream's fault, not the client's:
 * UPSTREAM_ERROR (502), never a 4xx a client would take as final.
 */
export function parseUpstreamJson<T extends z.ZodType>(schema: T, body: Buffer, what: string): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new UpstreamAnswerError("malformed", `upstream ${what} is not JSON`);
  }
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  throw new UpstreamAnswerError("malformed", `upstream ${what} is malformed: ${z.prettifyError(r.error)}`);
}

/** A manifest's JSON, checked for the fields the proxy reads. */
export function parseManifestJson(body: Buffer): ManifestJson {
  return parseUpstreamJson(ManifestJson, body, "manifest");
}
