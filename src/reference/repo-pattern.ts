/**
 * Repository patterns for an upstream's `allow`/`deny` lists. A pattern matches a whole repository name (docker.io
 * names with `library/` added): `*` matches any characters within one path component, `**` any characters across
 * components (`/` included), everything else itself. `library/*` is Docker's official images, `myorg/**` every
 * repository under myorg, `**` everything.
 */
const PATTERN_RE = /^[a-z0-9._/*-]+$/;

export function patternError(pattern: string): string | undefined {
  if (!PATTERN_RE.test(pattern))
    return "expected lowercase name characters, '/' and '*' (e.g. library/*, myorg/**)";
  if (/\*{3,}/.test(pattern)) return "'***' means nothing: use * (one component) or ** (any depth)";
  return undefined;
}

function toSource(pattern: string): string {
  return pattern
    .split("**")
    .map((part) =>
      part
        .split("*")
        .map((lit) => lit.replace(/\./g, "\\."))
        .join("[^/]*"),
    )
    .join(".*");
}

/** One regular expression for a list of patterns; undefined for an empty list. */
export function compilePatterns(patterns: readonly string[]): RegExp | undefined {
  if (patterns.length === 0) return undefined;
  return new RegExp(`^(?:${patterns.map(toSource).join("|")})$`);
}

/** `deny` wins; a non-empty `allow` admits only what it matches. */
export function repoPolicy(allow: readonly string[], deny: readonly string[]): (repo: string) => boolean {
  const allowed = compilePatterns(allow);
  const denied = compilePatterns(deny);
  return (repo) => !denied?.test(repo) && (!allowed || allowed.test(repo));
}
