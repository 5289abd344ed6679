// The dashboard's charts and number formats. Charts are uPlot's (loaded before this module as
// the global `uPlot`, from the copy compiled into the gateway); this module only sizes them to
// their panel, colours them from the page's CSS custom properties (so they follow the light or
// dark scheme) and feeds them the series.

const DASH = "–";

export function formatSeconds(v) {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v === 0) return "0 ms";
  if (v < 0.001) return `${(v * 1e6).toFixed(0)} µs`;
  if (v < 1) return `${(v * 1000).toFixed(v < 0.01 ? 2 : v < 0.1 ? 1 : 0)} ms`;
  return `${v.toFixed(v < 10 ? 2 : 1)} s`;
}

// "182 / 930 ms" when both are in the same unit, else "182 ms / 1.20 s": fits a card.
export function formatSecondsPair(a, b) {
  const x = formatSeconds(a);
  const y = formatSeconds(b);
  const unit = (s) => s.slice(s.lastIndexOf(" ") + 1);
  if (x !== DASH && y !== DASH && unit(x) === unit(y)) return `${x.slice(0, x.lastIndexOf(" "))} / ${y}`;
  return `${x} / ${y}`;
}

export function formatPercent(v) {
  if (v == null || !Number.isFinite(v)) return DASH;
  return `${(v * 100).toFixed(v >= 0.9995 || v === 0 ? 0 : 1)}%`;
}

export function formatUsd(v) {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v === 0) return "$0";
  if (Math.abs(v) < 0.01) return `$${v.toFixed(v < 0.0001 ? 6 : 4)}`;
  return `$${v.toFixed(2)}`;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
export function formatInteger(v) {
  if (v == null || !Number.isFinite(v)) return DASH;
  return integer.format(v);
}

export function formatRate(v) {
  if (v == null || !Number.isFinite(v)) return DASH;
  if (v === 0) return "0";
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return integer.format(v);
}

const axisClock = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const legendClock = new Intl.DateTimeFormat([], {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const axisLabel = (t) => axisClock.format(new Date(t * 1000));
const clockLabel = (t) => legendClock.format(new Date(t * 1000));

function latest(values) {
  for (let i = (values?.length ?? 0) - 1; i >= 0; --i) {
    if (values[i] != null) return values[i];
  }
  return null;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function chartHeight() {
  return window.matchMedia("(max-width: 600px)").matches ? 150 : 180;
}

// One chart in `figure` (its <figcaption> stays above). `series` is a list of
// {label, color: "--css-var", dash?}; `format` formats the y values (axis and legend); `range`
// fixes the y scale ([min, max]) where it has natural bounds.
export class Chart {
  constructor(figure, { series, format, range }) {
    this.figure = figure;
    this.spec = { series, format, range };
    this.data = [[], ...series.map(() => [])];
    this.plot = null;
    this.build();
    // Follows the panel's width (a rotated phone, a resized window).
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(figure);
  }

  width() {
    const style = getComputedStyle(this.figure);
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    return Math.max(120, Math.floor(this.figure.clientWidth - padding));
  }

  build() {
    if (this.plot) this.plot.destroy();
    const { series, format, range } = this.spec;
    const muted = cssVar("--muted");
    const grid = cssVar("--grid");
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: this.width(),
      height: chartHeight(),
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: range ? { range: () => range } : { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] },
      },
      axes: [
        { ...axis, values: (u, splits) => splits.map(axisLabel) },
        { ...axis, size: 64, values: (u, splits) => splits.map((v) => format(v)) },
      ],
      series: [
        { label: "time", value: (u, t) => (t == null ? "now" : clockLabel(t)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: cssVar(s.color),
          width: 1.75,
          dash: s.dash,
          spanGaps: false,
          points: { show: false },
          // Away from the cursor the legend shows the latest value.
          value: (u, v, si, idx) => format(idx == null ? latest(u.data[si]) : v),
        })),
      ],
    };
    this.plot = new uPlot(opts, this.data, this.figure);
  }

  fit() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: chartHeight() });
  }

  // xs: Unix seconds, oldest first; ys: one array per series, the same length (null = no value).
  update(xs, ys) {
    this.data = [xs, ...ys];
    this.plot.setData(this.data);
  }
}
