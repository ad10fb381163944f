/**
 * What never reaches a log line: credentials under their usual names, at any depth of a logged object (a headers
 * object, an error's fields), and credentials written inside strings (an error message quoting a header or a
 * URL). One pass of one regular expression over each finished JSON line: pino's `redact` needs a wildcard path per
 * depth, which made every access-log line ~15× slower here (128 µs against 8).
 */
const SECRET_FIELDS =
  "authorization|proxy-authorization|cookie|set-cookie|x-registry-auth|password|passwd|secret|client_secret|" +
  "token|access_token|refresh_token|id_token";

/** Query parameters that carry a credential or a signature (signed CDN and object-storage URLs). */
const SECRET_PARAMS =
  "token|access_token|refresh_token|id_token|password|passwd|secret|client_secret|api_key|apikey|key|sig|" +
  "signature|verify|policy|key-pair-id|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature";

export const CENSOR = "[redacted]";

// A JSON string (escapes included) and an array of them, as pino writes values.
const STRING = String.raw`"(?:[^"\\]|\\.)*"`;
// Inside a JSON string a value ends at a quote or a backslash (an escaped quote); names match in any case.
const INLINE = new RegExp(
  [
    // A field, at any depth: `"authorization":"Bearer …"`, `"set-cookie":["…"]`, `"password":123`.
    String.raw`("(?:${SECRET_FIELDS})":)(?:${STRING}|\[(?:${STRING},?)*\]|[\w.+-]+)`,
    // The same inside a string that quotes JSON: `{\"token\":\"…\"}`.
    String.raw`(\\"(?:${SECRET_FIELDS})\\":\s*\\")(?:[^"\\]|\\[^"])*`,
    // An auth scheme and its credential: `Bearer eyJ…`, `Basic dXNlcjpwYXNz` (not a challenge's `Bearer realm=`).
    String.raw`\b((?:Bearer|Basic)\s+)(?!(?:realm|service|scope|error)=)[^\s"\\,;]+`,
    // `?token=…`, `&X-Amz-Signature=…`
    String.raw`([?&;](?:${SECRET_PARAMS})=)[^&\s"\\#]+`,
    // `https://user:password@host`
    String.raw`(//[^/\s"\\@:]+:)[^/\s"\\@]+(?=@)`,
  ].join("|"),
  "gi",
);

/** The line with every credential replaced; lines without one are returned as they are. */
export function scrubSecrets(line: string): string {
  return line.replace(INLINE, (match, field, quoted, scheme, param, userinfo) => {
    if (field) return `${field}"${CENSOR}"`;
    const prefix = quoted ?? scheme ?? param ?? userinfo;
    return prefix === undefined ? match : `${prefix}${CENSOR}`;
  });
}
