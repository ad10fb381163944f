/**
 * Whether a client may be sent a redirect, by its User-Agent: false for those matching one of `patterns`
 * (regular expressions, case-insensitive), the clients configured as unable to follow a 307.
 */
export function redirectPolicy(patterns: readonly string[]): (userAgent: string | undefined) => boolean {
  if (patterns.length === 0) return () => true;
  const direct = patterns.map((p) => new RegExp(p, "i"));
  return (userAgent) => !direct.some((re) => re.test(userAgent ?? ""));
}
