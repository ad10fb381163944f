import { RegistryError } from "../errors/oci-errors.js";

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a single `bytes=` range against a known size. undefined means "send it all": no header, or several
 * ranges, which HTTP lets a server ignore. A malformed or unsatisfiable range is RANGE_INVALID (416).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const unsatisfiable = () =>
    new RegistryError(
      "RANGE_INVALID",
      `cannot satisfy range ${header.slice(0, 100)} of ${size} bytes`,
      undefined,
      {
        "Content-Range": `bytes */${size}`,
      },
    );
  const m = /^bytes=(.*)$/i.exec(header.trim());
  if (!m?.[1]) throw unsatisfiable();
  if (m[1].includes(",")) return undefined;
  const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(m[1]);
  if (!r || (r[1] === "" && r[2] === "")) throw unsatisfiable();
  let start: number;
  let end: number;
  if (r[1] === "") {
    // Suffix range: the last N bytes.
    const n = Number(r[2]);
    if (n === 0) throw unsatisfiable();
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(r[1]);
    end = r[2] === "" ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (r[2] !== "" && Number(r[2]) < start) throw unsatisfiable();
  }
  if (!Number.isSafeInteger(start) || start >= size) throw unsatisfiable();
  return { start, end };
}
