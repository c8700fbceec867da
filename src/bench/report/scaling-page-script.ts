// The scaling report's charts (scaling-html.ts builds their data): one per study, x on
// a log2 scale ticked at the cells, each figure's median as a line with points and its
// range as a band between two thin dashed lines of the same colour, with small points
// (so a single cell still shows its range). Every y axis starts at 0. Drawing and
// checking are page-script.ts's.

import { chartPage } from './page-script.js';

export const SCALING_PAGE_SCRIPT = chartPage(String.raw`
  data.charts.forEach(function (c) {
    var scaleOf = function (axis) { return axis === 0 ? 'y' : 'y' + axis; };
    var lo = Math.min.apply(null, c.x);
    var hi = Math.max.apply(null, c.x);
    var scales = { x: { time: false, distr: 3, log: 2, range: [lo / 1.5, hi * 1.5] } };
    var axes = [{
      label: c.x_label,
      splits: function () { return c.x.slice(); },
      values: function (u, splits) { return splits.map(function (v) { var i = c.x.indexOf(v); return i < 0 ? '' : c.x_labels[i]; }); },
    }];
    c.axes.forEach(function (label, i) {
      scales[scaleOf(i)] = { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } };
      axes.push({ label: label, scale: scaleOf(i), side: i === 0 ? 3 : 1, size: 80, grid: { show: i === 0 } });
    });
    var cols = [c.x.slice()];
    var styles = [];
    var bands = [];
    c.series.forEach(function (s, i) {
      cols.push(s.values.slice());
      styles.push(s.kind === 'median'
        ? { colour: s.colour, scale: scaleOf(s.axis) }
        : { colour: s.colour, scale: scaleOf(s.axis), width: 1, dash: [5, 4], pointSize: 3 });
      // uPlot numbers series from 1 (0 is x): the band from max down to min.
      if (s.kind === 'max') bands.push({ series: [i + 1, i], fill: PALETTE[s.colour % PALETTE.length] + '26' });
    });
    make(c.id, c.title, { scales: scales, axes: axes, bands: bands }, cols, c.series.map(function (s) { return s.name; }), styles);
  });
`);
