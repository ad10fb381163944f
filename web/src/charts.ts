import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom.js";

export interface SeriesSpec {
  label: string;
  /** A CSS custom property of the stylesheet, so the charts follow the light/dark palette. */
  colorVar: string;
  bars?: boolean;
}

export interface ChartSpec {
  id: string;
  series: SeriesSpec[];
  /** Formats a value for the y axis and the legend. */
  value: (v: number) => string;
  /** A fixed y range (e.g. 0…1 for ratios); otherwise 0…max. */
  range?: [number, number];
  /** Counts: y ticks at whole numbers only (else 0.5 steps would be labelled "1, 1, 2"). */
  integer?: boolean;
}

const HEIGHT = 220;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/**
 * A time-series chart (uPlot) that keeps its instance across refreshes: new data goes in with setData, so the
 * 10-second refresh does not rebuild canvases. It is built on the first update, once its element has a width.
 */
export class TimeChart {
  readonly el: HTMLElement;
  readonly title: HTMLElement;
  private readonly plotEl: HTMLElement;
  private plot: uPlot | undefined;
  private readonly resize = new ResizeObserver(() => {
    if (this.plot && this.plotEl.clientWidth > 0) this.plot.setSize(this.size());
  });
  // Canvas colours are read from the stylesheet once: a switch to or from dark mode rebuilds the plot.
  private readonly scheme = matchMedia("(prefers-color-scheme: dark)");
  private readonly repaint = () => {
    if (!this.plot) return;
    const data = this.plot.data;
    this.plot.destroy();
    this.plot = new uPlot(this.options(), data, this.plotEl);
  };

  constructor(private readonly spec: ChartSpec) {
    this.title = h("figcaption", {});
    this.plotEl = h("div", { class: "plot" });
    this.el = h("figure", { class: "chart", "data-chart": spec.id }, this.title, this.plotEl);
    this.resize.observe(this.plotEl);
    this.scheme.addEventListener("change", this.repaint);
  }

  update(title: string, x: number[], ys: (number | null)[][]): void {
    this.title.textContent = title;
    const data: uPlot.AlignedData = [x, ...ys];
    if (this.plot) this.plot.setData(data);
    else this.plot = new uPlot(this.options(), data, this.plotEl);
  }

  destroy(): void {
    this.resize.disconnect();
    this.scheme.removeEventListener("change", this.repaint);
    this.plot?.destroy();
  }

  private size(): { width: number; height: number } {
    return { width: this.plotEl.clientWidth || 600, height: HEIGHT };
  }

  private options(): uPlot.Options {
    const { spec } = this;
    const fg = cssVar("--muted");
    const grid = cssVar("--grid");
    const fixed = spec.range;
    return {
      ...this.size(),
      ms: 1,
      cursor: { drag: { x: false, y: false } },
      scales: {
        // Half a bucket of room on each side, so the first and last bars are whole.
        x: {
          time: true,
          range: (u, min, max) => {
            const half = ((u.data[0][1] ?? min + 1) - min) / 2;
            return [min - half, max + half];
          },
        },
        y: { range: fixed ? () => fixed : (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } },
        {
          stroke: fg,
          grid: { stroke: grid },
          ticks: { stroke: grid },
          size: 80,
          incrs: spec.integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 1e4, 1e5, 1e6, 1e7] : undefined,
          values: (_u, ticks) => ticks.map((t) => spec.value(t)),
        },
      ],
      series: [
        {},
        ...spec.series.map((s): uPlot.Series => {
          const color = cssVar(s.colorVar);
          return {
            label: s.label,
            stroke: color,
            fill: s.bars ? color : undefined,
            width: s.bars ? 0 : 2,
            // Lines always show their points: a bucket between two empty ones is a lone point, else invisible.
            points: s.bars ? { show: false } : { show: true, size: 5 },
            paths: s.bars ? uPlot.paths.bars?.({ size: [0.7, 48] }) : undefined,
            value: (_u, v) => (v == null ? "—" : spec.value(v)),
          };
        }),
      ],
    };
  }
}
