// The report pages' own scripts, as text inlined into the HTML (plain browser
// JavaScript, no template literals inside). Each draws its charts from the data block
// with uPlot, then checks what it drew: each chart's canvas has a size, and pixels of
// each series' colour are on it. The outcome goes into #render-status (JSON) and
// body[data-charts-rendered], so a headless browser's DOM dump says whether the charts
// rendered and with how many points. The drawing and the check are shared
// (`chartPage`); the charts are each page's: PAGE_SCRIPT for one result, the scaling
// study's in scaling-page-script.ts.

/**
 * A page script: `charts` (JavaScript) runs with `data` (the parsed #bench-data),
 * `make(id, title, opts, cols, names, styles)` and `PALETTE` in scope; the check runs
 * once uPlot has drawn. `styles[i]` (optional) gives series i a palette `colour`
 * index, a `width`, a `dash` pattern, a `scale`, `points: false` or a `pointSize`.
 */
export function chartPage(charts: string): string {
  return PAGE_HEAD + charts + PAGE_TAIL;
}

const PAGE_HEAD = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('bench-data').textContent);
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
  var charts = [];
  var width = Math.max(480, Math.min(1100, (document.body.clientWidth || 1000) - 40));

  function hex(c) { return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)]; }

  function make(id, title, opts, cols, names, styles) {
    var el = document.getElementById(id);
    if (!el) return;
    var series = [{}];
    var colours = [];
    for (var i = 0; i < names.length; i++) {
      var st = (styles && styles[i]) || {};
      var colour = PALETTE[(st.colour === undefined ? i : st.colour) % PALETTE.length];
      colours.push(colour);
      var s = { label: names[i], stroke: colour, width: st.width || 2, spanGaps: true, points: { show: st.points !== false, size: st.pointSize || 5 } };
      if (st.dash) s.dash = st.dash;
      if (st.scale) s.scale = st.scale;
      series.push(s);
    }
    opts.title = title;
    opts.width = width;
    opts.height = 320;
    opts.series = series;
    // Counts each series' draws: lines of equal values overlap, so pixels alone cannot say each was drawn.
    var drawn = names.map(function () { return 0; });
    opts.hooks = { drawSeries: [function (u, si) { if (si > 0) drawn[si - 1]++; }] };
    var u = new uPlot(opts, cols, el);
    charts.push({ id: id, u: u, names: names, colours: colours, drawn: drawn });
  }
`;

const PAGE_TAIL = String.raw`
  // What was drawn: canvas sizes, points per series, and pixels of each series' colour.
  function check() {
    var status = { charts: [] };
    charts.forEach(function (c) {
      var cv = c.u.ctx.canvas;
      var img = cv.width > 0 && cv.height > 0 ? c.u.ctx.getImageData(0, 0, cv.width, cv.height).data : [];
      // Pixels in any series colour: the lines are on the canvas, not only the axes.
      var colours = c.colours.map(hex);
      var pixels = 0;
      for (var j = 0; j < img.length; j += 4) {
        if (img[j + 3] < 200) continue;
        for (var k = 0; k < colours.length; k++) {
          var rgb = colours[k];
          if (Math.abs(img[j] - rgb[0]) < 8 && Math.abs(img[j + 1] - rgb[1]) < 8 && Math.abs(img[j + 2] - rgb[2]) < 8) { pixels++; break; }
        }
      }
      var series = c.names.map(function (name, i) {
        var points = c.u.data[i + 1].filter(function (v) { return v !== null && v !== undefined; }).length;
        return { name: name, points: points, drawn: c.drawn[i] };
      });
      status.charts.push({ id: c.id, canvas_width: cv.width, canvas_height: cv.height, series_pixels: pixels, series: series });
    });
    var ok = status.charts.length > 0 && status.charts.every(function (c) {
      return c.canvas_width > 0 && c.canvas_height > 0 && c.series_pixels > 0 && c.series.every(function (s) { return s.points > 0 && s.drawn > 0; });
    });
    document.getElementById('render-status').textContent = JSON.stringify(status);
    document.body.setAttribute('data-charts-rendered', ok ? 'yes' : 'no');
  }
  // uPlot draws on its first commit (a microtask): check once that has run.
  setTimeout(check, 0);
})();
`;

/** One result's page (html.ts): throughput over time, the latency curve, CPU by process. */
export const PAGE_SCRIPT = chartPage(String.raw`
  // Throughput over time: one line per run that has a per-second series.
  (function () {
    var runs = data.runs.filter(function (r) { return r.series.length > 0; });
    if (runs.length === 0) return;
    var xs = [];
    runs.forEach(function (r) { r.series.forEach(function (p) { if (xs.indexOf(p.t_s) < 0) xs.push(p.t_s); }); });
    xs.sort(function (a, b) { return a - b; });
    var cols = [xs];
    runs.forEach(function (r) {
      cols.push(xs.map(function (x) { var p = r.series.find(function (q) { return q.t_s === x; }); return p ? p.ops_per_s : null; }));
    });
    make('chart-throughput', 'Throughput (operations per second, each second of the window)', {
      scales: { x: { time: false } },
      axes: [{ label: 'seconds into the measured window' }, { label: 'operations/s', size: 80 }],
    }, cols, runs.map(function (r) { return r.label; }));
  })();

  // Latency percentile curve: x is log10(1/(1 - p)), so each "nine" gets the same room (50% at 0.3, 90% at 1, 99% at 2).
  (function () {
    var runs = data.runs.filter(function (r) { return r.percentiles.length > 0; });
    if (runs.length === 0) return;
    function xOf(p) { return p >= 100 ? null : Math.log10(1 / (1 - p / 100)); }
    var perRun = runs.map(function (r) {
      var pts = [];
      r.percentiles.forEach(function (pt) {
        var x = xOf(pt.percentile);
        var prev = pts.length ? pts[pts.length - 1][0] : 0;
        if (x === null) x = prev + 0.3; // the maximum, one step right of the last percentile
        if (x <= prev && pts.length) return;
        pts.push([x, pt.latency_us / 1000]);
      });
      return pts;
    });
    var xs = [];
    perRun.forEach(function (pts) { pts.forEach(function (p) { if (xs.indexOf(p[0]) < 0) xs.push(p[0]); }); });
    xs.sort(function (a, b) { return a - b; });
    var cols = [xs];
    perRun.forEach(function (pts) {
      cols.push(xs.map(function (x) { var p = pts.find(function (q) { return q[0] === x; }); return p ? p[1] : null; }));
    });
    function label(x) { var p = 100 * (1 - Math.pow(10, -x)); return (Math.round(p * 1000) / 1000) + '%'; }
    // Ticks at 50%, 90%, 99%, 99.9%, ...
    function nines(u, axis, min, max) {
      var out = [Math.log10(2)];
      for (var x = 1; x <= max + 1e-9; x++) out.push(x);
      return out;
    }
    make('chart-latency', 'Latency by percentile (ms; the last point of each line is its maximum)', {
      scales: { x: { time: false, range: [Math.log10(2), xs[xs.length - 1] + 0.1] }, y: { distr: 3 } },
      axes: [{ label: 'percentile', splits: nines, values: function (u, splits) { return splits.map(label); } }, { label: 'latency (ms)', size: 70 }],
    }, cols, runs.map(function (r) { return r.label; }));
  })();

  // CPU by process, second by second: one chart per run that sampled it.
  data.runs.forEach(function (r, k) {
    if (r.cpu_series.length === 0) return;
    var names = [];
    r.cpu_series.forEach(function (s) { Object.keys(s.share).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); }); });
    var cols = [r.cpu_series.map(function (s) { return s.t_s; })];
    names.forEach(function (n) { cols.push(r.cpu_series.map(function (s) { return n in s.share ? s.share[n] * 100 : null; })); });
    make('chart-cpu-' + k, 'CPU by process during ' + r.label + ' (% of one CPU)', {
      scales: { x: { time: false } },
      axes: [{ label: 'seconds into the measured window' }, { label: '% of one CPU', size: 60 }],
    }, cols, names);
  });

`);
