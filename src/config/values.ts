import { z } from "zod";

/** A whole number, or a string of one with a unit suffix: "30s", "10MiB". */
function withUnits(units: Record<string, number>, hint: string) {
  const re = new RegExp(`^(\\d+)(${Object.keys(units).join("|")})$`);
  return z.union(
    [
      z.number().int().nonnegative(),
      z
        .string()
        .regex(re)
        .transform((s) => {
          const [, n, unit] = re.exec(s) ?? [];
          return Number(n) * (units[unit as string] as number);
        }),
    ],
    { error: hint },
  );
}

/** A duration as milliseconds, or a string like "300ms", "30s", "5m", "2h", "30d". */
export const duration = withUnits(
  { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 },
  'expected a duration like "30s", "5m", "250ms" or "30d"',
);

/** A size in bytes, or a string like "512KiB", "10MiB", "200GiB". */
export const byteSize = withUnits(
  { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 },
  'expected a size like "10MiB" or "200GiB"',
);

export const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected "HOST:PORT", e.g. "0.0.0.0:5000"');

export const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });
