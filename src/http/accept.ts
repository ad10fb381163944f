/** Media types a client accepts, parsed from one or several Accept headers; order and q-values vary by client. */
export function parseAccept(header: string | string[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of h.split(",")) {
      const [type, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
      if (!type) continue;
      if (params.some((p) => /^q=0(\.0*)?$/.test(p))) continue;
      out.add(type);
    }
  }
  return out;
}

export function accepts(accepted: Set<string>, mediaType: string): boolean {
  return (
    accepted.size === 0 || accepted.has("*/*") || accepted.has("application/*") || accepted.has(mediaType)
  );
}
