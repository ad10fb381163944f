import type { Range, Stats } from "../api.js";

/** One screen of the console. Statistics pages get every refresh's figures; the others are static. */
export interface Page {
  el: HTMLElement;
  /** Shows figures from /api/stats: the range switch and the refresh apply. */
  stats: boolean;
  update?(stats: Stats, now: number): void;
  destroy?(): void;
}

export const RANGE_TITLES: Record<Range, string> = {
  "1h": "Last hour",
  "24h": "Last 24 hours",
  "30d": "Last 30 days",
};
