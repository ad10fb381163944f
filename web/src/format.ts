// How the console writes figures. Pure functions (no DOM): the unit tests run them under Node. `locale` is the
// browser's unless given (the tests pin one).

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const DASH = "—";

function decimal(v: number, digits: number, locale?: string): string {
  return v.toLocaleString(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Binary units, one decimal past bytes: 123456 → "120.6 KiB". */
export function formatBytes(n: number | null | undefined, locale?: string): string {
  if (n == null || !Number.isFinite(n)) return DASH;
  let v = Math.abs(n);
  let unit = 0;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${n < 0 ? "-" : ""}${decimal(v, unit === 0 ? 0 : 1, locale)} ${BYTE_UNITS[unit]}`;
}

/** A size as the config and the API take it, in the largest unit that divides it: 10737418240 → "10GiB". */
export function sizeSetting(n: number): string {
  for (let unit = 4; unit > 0; unit--) {
    const size = 1024 ** unit;
    if (n > 0 && n % size === 0) return `${n / size}${BYTE_UNITS[unit]}`;
  }
  return String(n);
}

/** Bytes per second: 1048576 → "1.0 MiB/s". */
export function formatSpeed(n: number | null | undefined, locale?: string): string {
  return n == null || !Number.isFinite(n) ? DASH : `${formatBytes(n, locale)}/s`;
}

/** A 0…1 ratio as a percentage with one decimal; null (nothing to divide) → "—". */
export function formatRatio(r: number | null | undefined, locale?: string): string {
  if (r == null || !Number.isFinite(r)) return DASH;
  return r.toLocaleString(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

/** A count with the locale's digit grouping: 12345 → "12,345". */
export function formatCount(n: number | null | undefined, locale?: string): string {
  return n == null || !Number.isFinite(n) ? DASH : n.toLocaleString(locale, { maximumFractionDigits: 0 });
}

/** A wall-clock time; with the date too when `withDate`. */
export function formatTime(ms: number, withDate = false, locale?: string): string {
  const opts: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate) Object.assign(opts, { year: "numeric", month: "short", day: "numeric" });
  return new Date(ms).toLocaleString(locale, opts);
}

/** How long ago, coarsely: "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(ms: number, now: number): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** `sha256:` and the first 12 hex digits: enough to tell digests apart on screen. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(":");
  return i < 0 ? digest.slice(0, 12) : digest.slice(0, i + 13);
}

/** The bucket width in words, for chart titles: 60000 → "minute". */
export function bucketName(bucketMs: number): string {
  if (bucketMs <= 60_000) return "minute";
  if (bucketMs <= 3_600_000) return "hour";
  return "day";
}
