/* fluz dashboard renderer: reads the JSON block #fluz-data and draws every view as inline SVG or
   DOM built with textContent. Data never goes through innerHTML, so any merchant name stays text.
   No libraries and no network: the page must work from file:// under a CSP of default-src 'none'. */
(function () {
  'use strict';

  var SELFTEST = /(^#|&)selftest(&|$)/.test(location.hash);
  // Self-test instrumentation: an injected script would call alert(); record it instead of
  // blocking, and record CSP violations and uncaught errors so the test can fail on them.
  var guard = { alerts: [], csp: [], errors: [] };
  if (SELFTEST) {
    window.alert = function (message) { guard.alerts.push(String(message)); };
  }
  document.addEventListener('securitypolicyviolation', function (e) {
    guard.csp.push(e.violatedDirective + ' ' + (e.blockedURI || ''));
  });
  window.addEventListener('error', function (e) { guard.errors.push(String(e.message)); });

  var NS = 'http://www.w3.org/2000/svg';
  var TABS = ['segments', 'cashback', 'explain', 'clv', 'offers', 'budget', 'summary', 'story'];
  var CLUSTER_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1',
    '#ff9da7', '#9c755f', '#86bcb6'];
  var MUTED = '#d3d9e0';
  var ACCENT = '#2563eb';

  var D = null;
  var S = { tab: 'segments', slide: 1, segment: null, dependence: null, qini: null, budgetPoint: null };
  var NSLIDES = 0;
  var fmt = {};

  // ---------------------------------------------------------------- formatting

  function isNum(v) { return typeof v === 'number' && isFinite(v); }

  function makeFormats(code) {
    var cur = code || 'USD';
    var money0, money2, moneyCompact;
    try {
      money0 = new Intl.NumberFormat('en-US', { style: 'currency', currency: cur, maximumFractionDigits: 0 });
      money2 = new Intl.NumberFormat('en-US', { style: 'currency', currency: cur, minimumFractionDigits: 2, maximumFractionDigits: 2 });
      moneyCompact = new Intl.NumberFormat('en-US', { style: 'currency', currency: cur, notation: 'compact', maximumFractionDigits: 1 });
    } catch (e) {
      return makeFormats('USD');
    }
    var int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
    var compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
    var fixed = {};
    return {
      money: function (v) { return isNum(v) ? (Math.abs(v) < 100 ? money2 : money0).format(v) : '—'; },
      money2: function (v) { return isNum(v) ? money2.format(v) : '—'; },
      moneyShort: function (v) { return isNum(v) ? moneyCompact.format(v) : '—'; },
      signedMoney: function (v) {
        if (!isNum(v)) { return '—'; }
        return (v >= 0 ? '+' : '−') + (Math.abs(v) < 100 ? money2 : money0).format(Math.abs(v));
      },
      int: function (v) { return isNum(v) ? int.format(Math.round(v)) : '—'; },
      compact: function (v) { return isNum(v) ? compact.format(v) : '—'; },
      // A fraction as a percentage: 0.1234 → "12.3%".
      pct: function (v, digits) { return isNum(v) ? (v * 100).toFixed(digits == null ? 1 : digits) + '%' : '—'; },
      // A rate with up to two decimals, trailing zeros trimmed: 0.075 → "7.5%".
      rate: function (v) {
        if (!isNum(v)) { return '—'; }
        var t = (v * 100).toFixed(2).replace(/\.?0+$/, '');
        return (t === '-0' ? '0' : t) + '%';
      },
      // Percentage points, for SHAP values and errors of a rate.
      pp: function (v, digits) { return isNum(v) ? (v * 100).toFixed(digits == null ? 2 : digits) + ' pp' : '—'; },
      num: function (v, digits) {
        if (!isNum(v)) { return '—'; }
        // toLocaleString with options builds a formatter per call: cache one per precision.
        var f = fixed[digits] || (fixed[digits] = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
        return f.format(v);
      }
    };
  }

  // ---------------------------------------------------------------- DOM helpers

  function svg(tag, attrs, parent) {
    var el = document.createElementNS(NS, tag);
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] != null) { el.setAttribute(k, attrs[k]); }
      }
    }
    if (parent) { parent.appendChild(el); }
    return el;
  }

  function stext(parent, x, y, str, attrs) {
    var t = svg('text', attrs || {}, parent);
    t.setAttribute('x', x);
    t.setAttribute('y', y);
    t.textContent = str;
    return t;
  }

  function html(tag, cls, txt, parent) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (txt != null) { el.textContent = txt; }
    if (parent) { parent.appendChild(el); }
    return el;
  }

  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  /** Shortens a label to about maxPx at the given font size (average glyph ≈ 0.56 em). */
  function fit(str, maxPx, fontPx) {
    str = String(str);
    var maxChars = Math.max(4, Math.floor(maxPx / ((fontPx || 11) * 0.53)));
    return str.length > maxChars ? str.slice(0, maxChars - 1) + '…' : str;
  }

  function empty(el, cmd, message) {
    clear(el);
    el.setAttribute('data-empty', cmd ? 'not-computed' : 'filtered');
    var box = html('div', 'empty', null, el);
    if (cmd) {
      box.appendChild(document.createTextNode('Not computed yet — run '));
      html('code', null, cmd, box);
      box.appendChild(document.createTextNode(message ? '. ' + message : '.'));
    } else {
      box.textContent = message || 'Nothing to show for this segment.';
    }
  }

  /** Computed, and nothing to show: says why (the self-test accepts any explanation). */
  function nothing(el, message) {
    clear(el);
    el.setAttribute('data-empty', 'none');
    html('div', 'empty', message, el);
  }

  function legend(el, items, extraClass) {
    var box = html('div', 'legend' + (extraClass ? ' ' + extraClass : ''));
    items.forEach(function (it) {
      var item = html('span', 'legend-item', null, box);
      var sw = html('span', 'swatch' + (it.line ? ' line' : ''), null, item);
      sw.style.background = it.color;
      item.appendChild(document.createTextNode(it.label));
    });
    el.insertBefore(box, el.firstChild);
    return box;
  }

  // ---------------------------------------------------------------- scales and axes

  function linear(d0, d1, r0, r1) {
    var f = function (v) { return d1 === d0 ? (r0 + r1) / 2 : r0 + (v - d0) / (d1 - d0) * (r1 - r0); };
    f.d0 = d0; f.d1 = d1;
    return f;
  }

  function frame(el, o) {
    clear(el);
    el.removeAttribute('data-empty');
    // Widths are measured once per scope before drawing (see renderScope), so drawing one chart
    // does not force a layout of the whole page for the next.
    var width = Math.floor(el._width != null ? el._width : el.clientWidth || 0);
    var W = Math.max(320, width > 0 ? width : 560);
    var H = o.height || 300;
    var m = { t: 14, r: 18, b: 44, l: 58 };
    ['t', 'r', 'b', 'l'].forEach(function (k) { if (o.margin && o.margin[k] != null) { m[k] = o.margin[k]; } });
    var root = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'svg', role: 'img',
      'aria-label': o.label || null });
    el.appendChild(root);
    var g = svg('g', { transform: 'translate(' + m.l + ',' + m.t + ')' }, root);
    return { svg: root, g: g, W: W, H: H, m: m, iw: W - m.l - m.r, ih: H - m.t - m.b };
  }

  function axisX(f, scale, ticks, format, label, grid) {
    var ax = svg('g', { 'class': 'axis', transform: 'translate(0,' + f.ih + ')' }, f.g);
    svg('line', { x1: 0, x2: f.iw, y1: 0, y2: 0 }, ax);
    ticks.forEach(function (t) {
      var x = scale(t);
      if (grid) { svg('line', { 'class': 'grid', x1: x, x2: x, y1: 0, y2: -f.ih }, ax); }
      svg('line', { x1: x, x2: x, y1: 0, y2: 4 }, ax);
      stext(ax, x, 17, format(t), { 'text-anchor': 'middle' });
    });
    if (label) { stext(ax, f.iw / 2, 36, label, { 'class': 'axis-label', 'text-anchor': 'middle' }); }
  }

  function axisY(f, scale, ticks, format, label, grid) {
    var ax = svg('g', { 'class': 'axis' }, f.g);
    ticks.forEach(function (t) {
      if (grid) { svg('line', { 'class': 'grid', x1: 0, x2: f.iw, y1: scale(t), y2: scale(t) }, ax); }
      stext(ax, -7, scale(t) + 3.5, format(t), { 'text-anchor': 'end' });
    });
    svg('line', { x1: 0, x2: 0, y1: 0, y2: f.ih }, ax);
    if (label) {
      stext(ax, 12 - f.m.l, f.ih / 2, label, { 'class': 'axis-label', 'text-anchor': 'middle', transform: 'rotate(-90 ' + (12 - f.m.l) + ' ' + f.ih / 2 + ')' });
    }
  }

  // ---------------------------------------------------------------- figures

  // A chart described once in Rust (src/report/figure.rs) and drawn here and into its PNG: axes
  // with their ranges, ticks and tick formats; marks in data coordinates; a legend.
  function tickFormat(axis, room) {
    var f = valueFormat(axis, room);
    return axis.log10 ? function (v) { return f(Math.pow(10, v)); } : f;
  }

  function valueFormat(axis, room) {
    switch (axis.format) {
      case 'int': return fmt.int;
      case 'num': return function (v) { return fmt.num(v, axis.decimals); };
      case 'compact': return fmt.compact;
      case 'money_short': return fmt.moneyShort;
      case 'money': return fmt.money;
      case 'pct0': return function (v) { return fmt.pct(v, 0); };
      case 'seconds': return function (v) { return fmt.num(v, axis.decimals) + ' s'; };
      case 'rate': return fmt.rate;
      case 'pp': return function (v) { return fmt.pp(v, Math.max(0, axis.decimals - 2)); };
      case 'name': return function (v) { var n = axis.names[Math.round(v)] || ''; return room ? fit(n, room, 11.5) : n; };
      default: return String;
    }
  }

  function pathOf(xs, ys, x, y) {
    var d = '';
    xs.forEach(function (xv, i) {
      if (isNum(xv) && isNum(ys[i])) { d += (d ? 'L' : 'M') + x(xv).toFixed(1) + ',' + y(ys[i]).toFixed(1); }
    });
    return d;
  }

  var MARKS = {
    line: function (g, x, y, m) {
      svg('path', { d: pathOf(m.x, m.y, x, y), fill: 'none', stroke: m.colour, 'stroke-width': m.width,
        'stroke-dasharray': m.dashed ? '6 4' : null }, g);
    },
    points: function (g, x, y, m) {
      m.x.forEach(function (xv, i) {
        if (!isNum(xv) || !isNum(m.y[i])) { return; }
        // Small dots (scatters) go without the white ring that sets larger markers apart.
        var ring = m.hollow || m.radius >= 4;
        var attrs = { fill: m.hollow ? 'none' : m.colour, stroke: ring ? (m.hollow ? m.colour : '#fff') : null, 'stroke-width': ring ? (m.hollow ? 1.5 : 1) : null,
          'class': 'mark', 'data-tip': m.tips[i] || null };
        if (m.square) {
          attrs.x = x(xv) - m.radius; attrs.y = y(m.y[i]) - m.radius; attrs.width = attrs.height = 2 * m.radius;
          svg('rect', attrs, g);
        } else {
          attrs.cx = x(xv); attrs.cy = y(m.y[i]); attrs.r = m.radius;
          svg('circle', attrs, g);
        }
      });
    },
    rects: function (g, x, y, m) {
      m.x0.forEach(function (x0, i) {
        var a = x(x0), b = x(m.x1[i]), top = y(m.y1[i]), bottom = y(m.y0[i]);
        svg('rect', { x: Math.min(a, b), y: Math.min(top, bottom), width: Math.abs(b - a), height: Math.max(0.5, Math.abs(bottom - top)),
          fill: m.colours[i], 'class': 'mark', 'data-tip': m.tips[i] || null }, g);
      });
    },
    rules: function (g, x, y, m) {
      m.x0.forEach(function (x0, i) {
        svg('line', { x1: x(x0), y1: y(m.y0[i]), x2: x(m.x1[i]), y2: y(m.y1[i]), 'class': m.dashed ? 'ref' : null,
          stroke: m.dashed ? null : m.colour, 'stroke-width': m.dashed ? null : m.width }, g);
      });
    },
    dots: function (g, x, y, m, fig) {
      m.x.forEach(function (xv, i) {
        if (!isNum(xv) || !isNum(m.y[i])) { return; }
        svg('circle', { cx: x(xv).toFixed(1), cy: y(m.y[i]).toFixed(1), r: m.radii ? m.radii[i] : m.radius,
          fill: m.shades ? shadeColor(m.shades[i]) : m.colour, 'class': 'mark dot' + (m.translucent ? ' bubble' : ''),
          'data-tip': m.tips ? m.tips[i] : dotTip(fig, m, i) }, g);
      });
    },
    text: function (g, x, y, m) {
      stext(g, x(m.x) + m.dx, y(m.y) + m.dy, m.text, { 'class': m.value ? 'val' : 'ref-label', 'text-anchor': m.anchor });
    }
  };

  /** A dot's tooltip from its mark's title and lines (each a label and a formatted value). */
  function dotTip(fig, m, i) {
    var pos = function (axis, v) { return axis.log10 ? Math.pow(10, v) : v; };
    return [m.tip_title].concat((m.tip_lines || []).map(function (l) {
      var v = l.of === 'x' ? pos(fig.x, m.x[i]) : l.of === 'y' ? pos(fig.y, m.y[i]) : l.of.values[i];
      return l.label + ': ' + valueFormat(l)(v);
    })).filter(Boolean).join('\n');
  }

  /** One of several figures, chosen by title in the select `sel` and kept in `S[key]`. */
  function pick(el, figs, sel, key) {
    var keys = figs.map(function (g) { return g.title; });
    sel = $(sel);
    if (sel && sel.options.length !== keys.length) {
      clear(sel);
      keys.forEach(function (k) { var opt = document.createElement('option'); opt.value = k; opt.textContent = k; sel.appendChild(opt); });
      sel.onchange = function () { S[key] = sel.value; renderView(el); };
    }
    if (keys.indexOf(S[key]) < 0) { S[key] = keys[0]; }
    if (sel) { sel.value = S[key]; }
    figure(el, figs[keys.indexOf(S[key])]);
  }

  /**
   * A chart view of `D.figures[key]`, computed by `cmd`. A figure per segment ({all, by_cluster})
   * shows the selected segment's; a segment without one says `noSegment`, or shows all.
   */
  function figureView(key, cmd, aware, noSegment) {
    return { kind: 'chart', aware: aware, render: function (el) {
      var fig = D.figures && D.figures[key];
      if (fig && 'by_cluster' in fig) {
        var own = S.segment == null ? fig.all : fig.by_cluster[String(S.segment)];
        if (fig.all && !own && noSegment) { empty(el, null, noSegment); return; }
        fig = own || fig.all;
      }
      if (!fig) { empty(el, cmd); return; }
      figure(el, fig);
    } };
  }

  /** Draws a figure; returns its frame and scales for a view's interactive overlay. */
  function figure(el, fig, height) {
    var f = frame(el, { height: height || fig.height, margin: { l: fig.left, r: 28, b: 46, t: 14 }, label: fig.title });
    var x = linear(fig.x.lo, fig.x.hi, 0, f.iw), y = linear(fig.y.lo, fig.y.hi, f.ih, 0);
    axisY(f, y, fig.y.ticks, tickFormat(fig.y, fig.left - 14), fig.y.label, fig.y.grid);
    axisX(f, x, fig.x.ticks, tickFormat(fig.x), fig.x.label, fig.x.grid);
    // Marks of another segment than the selected one first, muted; labels last, above every
    // line they might cross.
    var other = function (m) { return S.segment != null && m.cluster != null && m.cluster !== S.segment; };
    var behind = svg('g', {}, f.g), faded = svg('g', { 'class': 'faded' }, f.g);
    fig.marks.filter(other).forEach(function (m) {
      if (m.mark === 'points' || m.mark === 'dots') {
        MARKS[m.mark](behind, x, y, Object.assign({}, m, { colour: MUTED, shades: null, radius: m.radius * 0.8 }), fig);
      } else {
        MARKS[m.mark](faded, x, y, m, fig);
      }
    });
    fig.marks.filter(function (m) { return m.mark !== 'text' && !other(m); })
      .concat(fig.marks.filter(function (m) { return m.mark === 'text' && !other(m); }))
      .forEach(function (m) { MARKS[m.mark](f.g, x, y, m, fig); });
    if (fig.legend.length) {
      legend(el, fig.legend.map(function (k) { return { label: k.label, color: other(k) ? MUTED : k.colour, line: k.line }; }));
    }
    return { f: f, x: x, y: y };
  }

  // ---------------------------------------------------------------- data helpers

  function segments() { return D.segments || []; }
  function segmentIndex(cluster) {
    var segs = segments();
    for (var i = 0; i < segs.length; i++) { if (segs[i].cluster === cluster) { return i; } }
    return -1;
  }
  function selectedSegment() { var i = segmentIndex(S.segment); return i >= 0 ? segments()[i] : null; }
  function clusterColor(cluster) {
    var i = segmentIndex(cluster);
    return CLUSTER_COLORS[(i >= 0 ? i : cluster) % CLUSTER_COLORS.length];
  }
  function segLabel(seg) { return 'C' + seg.cluster + ' · ' + seg.persona; }
  function personaOf(cluster) { var i = segmentIndex(cluster); return i >= 0 ? segments()[i].persona : ''; }
  function inSegment(cluster) { return S.segment == null || cluster === S.segment; }
  function filteredCustomers() {
    return (D.customers || []).filter(function (c) { return inSegment(c.cluster); });
  }
  function hasModel() { return (D.customers || []).some(function (c) { return isNum(c.predicted_rate); }); }

  /** Tier colours: light to dark blue, one per tier, in tier order. */
  /** The feature-value scale of SHAP plots (figure.rs `shade_colour`): blue (low) to red (high). */
  function shadeColor(t) {
    if (!isNum(t)) { return '#9a9a9a'; }
    var a = [0, 139, 251], b = [255, 0, 82];
    return 'rgb(' + a.map(function (v, k) { return Math.round(v + (b[k] - v) * t); }).join(',') + ')';
  }

  function median(values) {
    var v = values.filter(isNum).sort(function (a, b) { return a - b; });
    if (!v.length) { return NaN; }
    var mid = v.length >> 1;
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  }

  function sum(values) { return values.reduce(function (a, b) { return a + (isNum(b) ? b : 0); }, 0); }

  function headroom(m) { return (m.commission - m.recommended_rate) * m.spend; }

  // ---------------------------------------------------------------- views

  var VIEWS = {};
  var viewMs = {}; // render time per view, reported by the self-test

  function kpiCards(el, cards) {
    clear(el);
    el.removeAttribute('data-empty');
    cards.forEach(function (c) {
      var card = html('div', 'kpi' + (c.tone ? ' ' + c.tone : ''), null, el);
      // Titles show the full text where a narrow card cuts it with an ellipsis.
      html('div', 'kpi-label', c.label, card).title = c.label;
      html('div', 'kpi-value', c.value, card).title = c.value;
      if (c.sub) { html('div', 'kpi-sub', c.sub, card).title = c.sub; }
    });
  }

  VIEWS.segmentKpis = { kind: 'kpi', aware: true, render: function (el) {
    var k = D.kpis, seg = selectedSegment();
    if (seg) {
      var sample = filteredCustomers();
      kpiCards(el, [
        { label: 'Segment', value: 'C' + seg.cluster, sub: seg.persona },
        { label: 'Customers', value: fmt.int(seg.size), sub: fmt.pct(seg.share_customers) + ' of all customers' },
        { label: 'Share of revenue', value: fmt.pct(seg.share_revenue), sub: 'vs ' + fmt.pct(seg.share_customers) + ' of customers' },
        { label: 'Mean spend', value: fmt.money(seg.mean_total_spent), sub: 'median ' + fmt.money(median(sample.map(function (c) { return c.total_spent; }))) + ' (sample)' },
        { label: 'Mean item price', value: fmt.money2(seg.mean_avg_item_price), sub: fmt.num(seg.mean_spend_to_price_ratio, 0) + ' spend / price' },
        { label: 'Recency', value: fmt.num(seg.mean_recency_days, 0) + ' days', sub: fmt.num(seg.mean_n_invoices, 1) + ' invoices on average' }
      ]);
      return;
    }
    if (!k.customers) { empty(el, 'fluz ingest'); return; }
    kpiCards(el, [
      { label: 'Customers', value: fmt.int(k.customers), sub: fmt.int(k.transactions) + ' transactions' },
      { label: 'Revenue', value: fmt.moneyShort(k.revenue), sub: fmt.money(k.revenue) },
      { label: 'Mean spend', value: fmt.money(k.mean_spend), sub: 'per customer' },
      { label: 'Median spend', value: fmt.money(k.median_spend), sub: 'per customer' },
      { label: 'High-spend outliers', value: fmt.int(k.outliers), sub: '1.5·IQR rule, ' + fmt.pct(k.outliers / k.customers) },
      { label: 'Segments', value: k.best_k != null ? 'k = ' + k.best_k : '—', sub: k.best_k != null ? 'best silhouette' : 'run fluz segment' }
    ]);
  } };

  VIEWS.segmentShare = figureView('segment_shares', 'fluz segment', true);


  VIEWS.priceSpendScatter = figureView('price_spend', 'fluz segment', true);


  VIEWS.spendHistogram = figureView('spend_histogram', 'fluz segment', true, 'No sampled customer in this segment.');


  VIEWS.kSelection = { kind: 'chart', aware: false, render: function (el) {
    var figs = (D.figures && D.figures.k_selection) || [];
    if (!figs.length) { empty(el, 'fluz segment'); return; }
    // Silhouette above Davies–Bouldin, on the same k axis (the PNG has all four metrics).
    clear(el);
    el.removeAttribute('data-empty');
    [figs[1], figs[2]].forEach(function (fig) {
      html('div', 'figure-title', fig.title, el);
      var cell = html('div', null, null, el);
      cell._width = el._width;
      figure(cell, fig, 150);
    });
  } };

  // ---------------------------------------------------------------- tables

  /** A sortable table. columns: {key, label, get(row), format(v), num, title}. */
  function table(el, columns, rows, o) {
    o = o || {};
    if (!el._sort) { el._sort = { key: o.sortKey || null, desc: o.desc !== false }; }
    clear(el);
    el.removeAttribute('data-empty');
    var state = el._sort;
    var col = columns.filter(function (c) { return c.key === state.key; })[0];
    var sorted = rows.slice();
    if (col) {
      var get = col.get || function (r) { return r[col.key]; };
      sorted.sort(function (a, b) {
        var va = get(a), vb = get(b);
        var an = va == null || (typeof va === 'number' && !isFinite(va)), bn = vb == null || (typeof vb === 'number' && !isFinite(vb));
        if (an || bn) { return an === bn ? 0 : an ? 1 : -1; } // missing values always last
        var c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
        return state.desc ? -c : c;
      });
    }
    var max = o.maxRows || sorted.length;
    var wrap = html('div', 'table-wrap', null, el);
    var t = html('table', 'data', null, wrap);
    var thead = html('thead', null, null, t);
    var hr = html('tr', null, null, thead);
    columns.forEach(function (c) {
      var th = html('th', c.num ? 'num' : null, null, hr);
      if (c.title) { th.title = c.title; }
      var btn = html('button', 'sort', c.label, th);
      btn.type = 'button';
      btn.setAttribute('data-key', c.key);
      if (c.key === state.key) {
        th.setAttribute('aria-sort', state.desc ? 'descending' : 'ascending');
        html('span', 'arrow', state.desc ? ' ▼' : ' ▲', btn);
      }
      btn.addEventListener('click', function () {
        if (state.key === c.key) { state.desc = !state.desc; } else { state.key = c.key; state.desc = !!c.num; }
        table(el, columns, rows, o);
      });
    });
    var tbody = html('tbody', null, null, t);
    sorted.slice(0, max).forEach(function (r) {
      var tr = html('tr', o.highlight && o.highlight(r) ? 'hl' : null, null, tbody);
      columns.forEach(function (c) {
        var v = c.get ? c.get(r) : r[c.key];
        var td = html('td', c.num ? 'num' : null, null, tr);
        if (c.cell) { c.cell(td, r, v); } else { td.textContent = c.format ? c.format(v) : (v == null ? '—' : String(v)); }
      });
    });
    if (sorted.length > max) {
      html('p', 'table-note', 'Showing ' + fmt.int(max) + ' of ' + fmt.int(sorted.length) + ' rows — click a column to sort.', el);
    }
  }

  function dotCell(td, r) {
    var dot = html('span', 'cdot', null, td);
    dot.style.background = clusterColor(r.cluster);
    td.appendChild(document.createTextNode('C' + r.cluster));
  }

  VIEWS.segmentTable = { kind: 'table', aware: true, render: function (el) {
    var segs = segments();
    if (!segs.length) { empty(el, 'fluz segment'); return; }
    table(el, [
      { key: 'cluster', label: 'Cluster', num: false, cell: dotCell },
      { key: 'persona', label: 'Persona' },
      { key: 'size', label: 'Customers', num: true, format: fmt.int },
      { key: 'share_customers', label: '% customers', num: true, format: fmt.pct },
      { key: 'share_revenue', label: '% revenue', num: true, format: fmt.pct },
      { key: 'mean_total_spent', label: 'Mean spend', num: true, format: fmt.money },
      { key: 'mean_avg_item_price', label: 'Item price', num: true, format: fmt.money2 },
      { key: 'mean_spend_to_price_ratio', label: 'Spend / price', num: true, format: function (v) { return fmt.num(v, 0); } },
      { key: 'mean_recency_days', label: 'Recency (d)', num: true, format: function (v) { return fmt.num(v, 0); } },
      { key: 'mean_n_invoices', label: 'Invoices', num: true, format: function (v) { return fmt.num(v, 1); } },
      { key: 'mean_predicted_rate', label: 'Predicted', num: true, format: fmt.rate },
      { key: 'tier_mode', label: 'Modal tier', num: true, format: fmt.rate }
    ].concat(D.kpis.rate_source ? [{ key: 'recommended_mode', label: 'Offer test', num: true, format: fmt.rate }] : []),
    segs, { sortKey: 'share_revenue', highlight: function (r) { return r.cluster === S.segment; } });
  } };

  // ---------------------------------------------------------------- cashback views

  function policyValues() {
    var seg = selectedSegment();
    var src = seg || D.kpis;
    return { flat: src.value_flat, model: src.value_predicted, oracle: src.value_oracle, seg: seg };
  }

  VIEWS.cashbackKpis = { kind: 'kpi', aware: true, render: function (el) {
    var k = D.kpis;
    if (!k.best_model && !hasModel()) { empty(el, 'fluz train'); return; }
    var cs = filteredCustomers();
    var pred = cs.map(function (c) { return c.predicted_rate; }).filter(isNum);
    var v = policyValues();
    var gain = isNum(v.model) && isNum(v.flat) ? v.model - v.flat : NaN;
    var regret = v.seg ? (isNum(v.oracle) && v.oracle !== 0 ? 100 * (v.oracle - v.model) / Math.abs(v.oracle) : NaN)
      : (isNum(k.regret_pct) ? k.regret_pct : NaN);
    kpiCards(el, [
      { label: 'Final model', value: k.best_model || '—', sub: 'best test RMSE of ' + (D.models || []).length + ' families' },
      { label: 'Test R²', value: fmt.num(k.test_r2, 3), sub: 'RMSE ' + fmt.pp(k.test_rmse) },
      { label: 'Mean predicted rate', value: fmt.rate(pred.length ? sum(pred) / pred.length : NaN), sub: (v.seg ? segLabel(v.seg) : 'all customers') + ' (sample)' },
      { label: 'Value vs flat ' + fmt.rate(k.flat_rate), value: fmt.signedMoney(gain), tone: isNum(gain) ? (gain >= 0 ? 'good' : 'bad') : null,
        sub: isNum(gain) && isNum(v.flat) && v.flat ? (gain >= 0 ? '+' : '') + fmt.num(100 * gain / Math.abs(v.flat), 1) + '% expected value' : 'expected value' },
      { label: 'Regret vs oracle', value: isNum(regret) ? fmt.num(regret, 1) + '%' : '—', sub: isNum(k.flat_regret_pct) && !v.seg ? 'flat rate: ' + fmt.num(k.flat_regret_pct, 1) + '%' : 'share of oracle value missed' }
    ]);
  } };

  VIEWS.tierBars = figureView('tier_bars', 'fluz train', true);


  VIEWS.predictedVsOptimal = figureView('predicted_vs_optimal', 'fluz train', true);


  VIEWS.policyValue = { kind: 'chart', aware: true, render: function (el) {
    var by = D.figures && D.figures.policy_value;
    var fig = by && (S.segment == null ? by.all : by.by_cluster[String(S.segment)]);
    if (!fig) {
      if (S.segment != null && by && by.all) { empty(el, null, 'Per-segment policy values are not in this run.'); } else { empty(el, 'fluz train'); }
      return;
    }
    figure(el, fig);
  } };


  VIEWS.modelComparison = figureView('model_comparison', 'fluz train', false);


  VIEWS.tierTable = { kind: 'table', aware: false, render: function (el) {
    var tiers = D.tiers || [];
    if (!tiers.length) { empty(el, 'fluz train'); return; }
    var cols = [
      { key: 'rate', label: 'Tier', num: true, format: fmt.rate },
      { key: 'customers', label: 'Customers', num: true, format: fmt.int },
      { key: 'share', label: 'Share', num: true, format: fmt.pct }
    ];
    segments().forEach(function (s, i) {
      cols.push({ key: 'c' + i, label: 'C' + s.cluster, title: s.persona, num: true, format: fmt.int,
        get: function (r) { return (r.by_cluster || [])[i]; } });
    });
    table(el, cols, tiers, { sortKey: 'rate', desc: false });
  } };

  VIEWS.modelTable = { kind: 'table', aware: false, render: function (el) {
    var ms = D.models || [];
    if (!ms.length) { empty(el, 'fluz train'); return; }
    table(el, [
      { key: 'family', label: 'Family' },
      { key: 'cv_rmse', label: 'CV RMSE', num: true, format: function (v) { return fmt.pp(v, 3); } },
      { key: 'test_rmse', label: 'Test RMSE', num: true, format: function (v) { return fmt.pp(v, 3); } },
      { key: 'test_mae', label: 'Test MAE', num: true, format: function (v) { return fmt.pp(v, 3); } },
      { key: 'test_r2', label: 'Test R²', num: true, format: function (v) { return fmt.num(v, 4); } },
      { key: 'final', label: 'Final', get: function (r) { return r['final'] ? 'yes' : ''; } }
    ], ms, { sortKey: 'test_rmse', desc: false });
  } };

  // ---------------------------------------------------------------- explainability views

  VIEWS.shapImportance = figureView('shap_importance', 'fluz explain', true, 'No sampled SHAP values for this segment.');

  VIEWS.beeswarm = figureView('shap_beeswarm', 'fluz explain', true);

  VIEWS.dependence = { kind: 'chart', aware: true, render: function (el) {
    var figs = (D.figures && D.figures.shap_dependence) || [];
    if (!figs.length) { empty(el, 'fluz explain'); return; }
    pick(el, figs, '#dependence-feature', 'dependence');
  } };

  VIEWS.featureImportance = figureView('feature_importance', 'fluz train', false);


  VIEWS.explanationTable = { kind: 'table', aware: true, render: function (el) {
    var cs = filteredCustomers();
    if (!(D.customers || []).length || !hasModel()) { empty(el, 'fluz explain'); return; }
    table(el, [
      { key: 'customer_id', label: 'Customer', num: true, format: String },
      { key: 'cluster', label: 'Segment', cell: function (td, r) { dotCell(td, r); td.appendChild(document.createTextNode(' · ' + r.persona)); } },
      { key: 'total_spent', label: 'Total spent', num: true, format: fmt.money },
      { key: 'predicted_rate', label: 'Predicted', num: true, format: fmt.rate },
      { key: 'tier', label: 'Tier', num: true, format: fmt.rate },
      { key: 'optimal_rate', label: 'Optimal', num: true, format: fmt.rate }
    ].concat(D.kpis.rate_source ? [{ key: 'recommended_rate', label: 'To give (offer test)', num: true,
      cell: function (td, r, v) { td.textContent = fmt.rate(v) + (r.from_offer_test ? '' : ' (model)'); } }] : []).concat([
      { key: 'drivers', label: 'Top drivers (SHAP)', format: function (v) { return v ? v : '— run fluz explain'; } }
    ]), cs, { sortKey: 'total_spent', maxRows: 100 });
  } };

  // ---------------------------------------------------------------- summary views

  VIEWS.summaryKpis = { kind: 'kpi', aware: true, render: function (el) {
    var k = D.kpis;
    if (!k.customers) { empty(el, 'fluz ingest'); return; }
    var v = policyValues();
    var seg = v.seg;
    var gain = isNum(v.model) && isNum(v.flat) ? v.model - v.flat : NaN;
    var regret = seg ? (isNum(v.oracle) && v.oracle ? 100 * (v.oracle - v.model) / Math.abs(v.oracle) : NaN) : k.regret_pct;
    kpiCards(el, [
      { label: seg ? 'Segment customers' : 'Customers', value: fmt.int(seg ? seg.size : k.customers), sub: seg ? segLabel(seg) : fmt.int(k.transactions) + ' transactions' },
      { label: seg ? 'Share of revenue' : 'Revenue', value: seg ? fmt.pct(seg.share_revenue) : fmt.moneyShort(k.revenue), sub: seg ? 'mean spend ' + fmt.money(seg.mean_total_spent) : 'mean ' + fmt.money(k.mean_spend) + ' per customer' },
      { label: 'Value, model tiers', value: fmt.moneyShort(v.model), sub: isNum(v.oracle) ? fmt.pct(v.oracle ? v.model / v.oracle : NaN, 1) + ' of the oracle' : 'run fluz train' },
      { label: 'Gain vs flat ' + fmt.rate(k.flat_rate), value: fmt.signedMoney(gain), tone: isNum(gain) ? (gain >= 0 ? 'good' : 'bad') : null, sub: isNum(gain) && v.flat ? (gain >= 0 ? '+' : '') + fmt.num(100 * gain / Math.abs(v.flat), 1) + '%' : '' },
      { label: 'Regret vs oracle', value: isNum(regret) ? fmt.num(regret, 1) + '%' : '—', sub: seg || !isNum(k.flat_regret_pct) ? '' : 'flat: ' + fmt.num(k.flat_regret_pct, 1) + '%' },
      { label: 'Final model', value: k.best_model || '—', sub: isNum(k.test_r2) ? 'test R² ' + fmt.num(k.test_r2, 3) : '' }
    ]);
  } };

  VIEWS.recommendations = { kind: 'list', aware: true, render: function (el) {
    clear(el);
    var recs = D.recommendations || [];
    if (!recs.length) { empty(el, 'fluz run-all'); return; }
    el.removeAttribute('data-empty');
    var ol = html('ol', 'rec-list', null, el);
    recs.forEach(function (r, i) {
      var caution = r.title.indexOf('Caution') === 0;
      var seg = selectedSegment();
      var mentions = seg && seg.persona && (r.title.indexOf(seg.persona) >= 0 || r.detail.indexOf('Cluster ' + seg.cluster + ':') === 0);
      var li = html('li', 'rec' + (caution ? ' caution' : '') + (mentions ? ' hl' : ''), null, ol);
      html('span', 'rec-num', caution ? '!' : String(i + 1), li);
      var body = html('div', 'rec-body', null, li);
      var head = html('div', 'rec-head', null, body);
      html('span', 'rec-title', r.title, head);
      if (r.metric) {
        var tone = /^[+]/.test(r.metric) ? ' good' : /^[-−]/.test(r.metric) ? ' bad' : '';
        html('span', 'rec-metric' + tone, r.metric, head);
      }
      html('p', 'rec-detail', r.detail, body);
    });
  } };

  VIEWS.tierHeatmap = figureView('tier_heatmap', 'fluz train', true);

  VIEWS.merchantHeadroom = figureView('merchant_headroom', 'fluz train', false);


  VIEWS.merchantRates = figureView('merchant_rates', 'fluz train', false);

  VIEWS.segmentValue = figureView('segment_value', 'fluz train', true);


  VIEWS.merchantTable = { kind: 'table', aware: false, render: function (el) {
    var ms = D.merchants || [];
    if (!ms.length) { empty(el, 'fluz train'); return; }
    table(el, [
      { key: 'name', label: 'Merchant' },
      { key: 'city', label: 'City' },
      { key: 'categories', label: 'Categories', cell: function (td, r) { td.className = 'clip'; td.textContent = r.categories; td.title = r.categories; } },
      { key: 'stars', label: 'Stars', num: true, format: function (v) { return fmt.num(v, 1); } },
      { key: 'commission', label: 'Commission', num: true, format: fmt.rate },
      { key: 'customers', label: 'Customers', num: true, format: fmt.int },
      { key: 'spend', label: 'Spend', num: true, format: fmt.money },
      { key: 'recommended_rate', label: 'Recommended rate', num: true, format: fmt.rate },
      { key: 'expected_margin', label: 'Expected margin', num: true, format: fmt.money },
      { key: 'headroom', label: 'Headroom', num: true, format: fmt.money, get: headroom, title: '(commission − recommended rate) × spend' }
    ], ms, { sortKey: 'spend' });
  } };

  // ---------------------------------------------------------------- story views

  function lede(el, text, cmd) {
    clear(el);
    if (!text) { empty(el, cmd); return; }
    el.removeAttribute('data-empty');
    el.textContent = text;
  }

  function ingestBySource(source) { return (D.ingest_report || []).filter(function (r) { return r.source === source; }); }

  VIEWS.storyPipeline = { kind: 'text', aware: false, render: function (el) {
    var retail = ingestBySource('retail'), social = ingestBySource('social'), merchants = ingestBySource('merchants');
    if (!retail.length && !D.kpis.customers) { lede(el, '', 'fluz ingest'); return; }
    var parts = [];
    if (retail.length) {
      parts.push(fmt.int(retail[0].rows) + ' raw retail lines were cleaned in ' + (retail.length - 1) + ' steps to ' + fmt.int(retail[retail.length - 1].rows) + ' transactions');
    }
    if (D.kpis.customers) { parts.push('from ' + fmt.int(D.kpis.customers) + ' customers spending ' + fmt.money(D.kpis.revenue)); }
    var text = parts.join(' ') + '.';
    var linked = [];
    if (social.length) { linked.push(fmt.int(social[social.length - 1].rows) + ' social connections'); }
    if (merchants.length) { linked.push(fmt.int(merchants[merchants.length - 1].rows) + ' merchants'); }
    if (linked.length) { text += ' ' + linked.join(' and ') + ' were linked to them deterministically.'; }
    var stages = D.pipeline || [];
    if (stages.length) { text += ' ' + stages.length + ' stages ran in ' + fmt.num(sum(stages.map(function (s) { return s.seconds; })), 1) + ' s.'; }
    lede(el, text);
  } };

  VIEWS.ingestFunnel = figureView('ingest_funnel', 'fluz ingest', false);


  VIEWS.stageTimes = figureView('stage_times', 'fluz run-all', false);


  VIEWS.storyPersonas = { kind: 'text', aware: true, render: function (el) {
    var segs = segments();
    if (!segs.length) { lede(el, '', 'fluz segment'); return; }
    var seg = selectedSegment();
    var byRevenue = segs.slice().sort(function (a, b) { return b.share_revenue - a.share_revenue; });
    var top = seg || byRevenue[0];
    var text = (D.kpis.best_k != null ? 'k = ' + D.kpis.best_k + ' segments, chosen by silhouette. ' : segs.length + ' segments. ') +
      top.persona + ' are ' + fmt.pct(top.share_customers) + ' of customers but bring ' + fmt.pct(top.share_revenue) + ' of revenue (mean spend ' + fmt.money(top.mean_total_spent) + ', last purchase ' + fmt.num(top.mean_recency_days, 0) + ' days ago on average).';
    var smallest = segs.slice().sort(function (a, b) { return a.size - b.size; })[0];
    if (!seg && segs.length > 1) {
      text += smallest === top ? ' It is also the smallest segment.'
        : ' The smallest segment, ' + smallest.persona + ', has ' + fmt.int(smallest.size) + ' customers.';
    }
    lede(el, text);
  } };

  VIEWS.personaCards = { kind: 'list', aware: true, render: function (el) {
    clear(el);
    var segs = segments();
    if (!segs.length) { empty(el, 'fluz segment'); return; }
    el.removeAttribute('data-empty');
    segs.forEach(function (s) {
      var card = html('div', 'persona' + (S.segment != null && s.cluster !== S.segment ? ' faded' : ''), null, el);
      card.style.borderLeftColor = clusterColor(s.cluster);
      html('div', 'persona-name', s.persona, card);
      html('div', 'persona-sub', 'C' + s.cluster + ' · ' + fmt.int(s.size) + ' customers · ' + fmt.pct(s.share_revenue) + ' of revenue', card);
      var dl = html('dl', null, null, card);
      [['Mean spend', fmt.money(s.mean_total_spent)], ['Item price', fmt.money2(s.mean_avg_item_price)], ['Recency', fmt.num(s.mean_recency_days, 0) + ' d'],
        ['Invoices', fmt.num(s.mean_n_invoices, 1)],
        D.kpis.rate_source ? ['Rate to give', fmt.rate(s.recommended_mode) + ' (offer test)'] : ['Modal tier', fmt.rate(s.tier_mode)]].forEach(function (p) {
        var d = html('div', null, null, dl);
        html('dt', null, p[0], d);
        html('dd', null, p[1], d);
      });
    });
  } };

  VIEWS.storyTiers = { kind: 'text', aware: true, render: function (el) {
    var tiers = D.tiers || [];
    var k = D.kpis;
    if (!tiers.length) { lede(el, '', 'fluz train'); return; }
    var si = segmentIndex(S.segment);
    var count = function (t) { return si >= 0 ? (t.by_cluster || [])[si] || 0 : t.customers; };
    var total = sum(tiers.map(count));
    var top = tiers.slice().sort(function (a, b) { return count(b) - count(a); })[0];
    var text = (k.best_model ? 'The ' + k.best_model + ' model' + (isNum(k.test_r2) ? ' (test R² ' + fmt.num(k.test_r2, 3) + ')' : '') : 'The model') +
      ' puts ' + fmt.pct(total ? count(top) / total : 0) + ' of ' + (si >= 0 ? segments()[si].persona : 'customers') + ' in the ' + fmt.rate(top.rate) + ' tier.';
    var v = policyValues();
    if (isNum(v.model) && isNum(v.flat)) {
      text += ' Tiered rates are expected to earn ' + fmt.money(v.model) + ' vs ' + fmt.money(v.flat) + ' at a flat ' + fmt.rate(k.flat_rate) + ' (' + fmt.signedMoney(v.model - v.flat) + ')';
      text += isNum(v.oracle) && v.oracle ? ', ' + fmt.pct(v.model / v.oracle) + ' of what the oracle would earn.' : '.';
    }
    if (k.rate_source) {
      text += ' These are the oracle-label model\u2019s tiers (the original project\u2019s method); the rates to give come from the offer test (' + k.rate_source + ').';
    }
    lede(el, text);
  } };

  VIEWS.storyDrivers = { kind: 'text', aware: false, render: function (el) {
    var rows = (D.shap_importance || []).slice().sort(function (a, b) { return b.mean_abs_shap - a.mean_abs_shap; });
    if (!rows.length) { lede(el, '', 'fluz explain'); return; }
    var total = sum(rows.map(function (r) { return r.mean_abs_shap; }));
    var text = rows[0].feature + ' carries ' + fmt.pct(total ? rows[0].mean_abs_shap / total : 0) + ' of the SHAP attribution';
    if (rows.length > 2) { text += ', followed by ' + rows[1].feature + ' and ' + rows[2].feature; }
    text += '. Each dot on the right is one customer: its position is how much that feature moved the recommended rate, its colour the feature value.';
    lede(el, text);
  } };

  VIEWS.storyRecommendations = { kind: 'text', aware: false, render: function (el) {
    var recs = D.recommendations || [];
    if (!recs.length) { lede(el, '', 'fluz run-all'); return; }
    var cautions = recs.filter(function (r) { return r.title.indexOf('Caution') === 0; }).length;
    var n = recs.length - cautions;
    lede(el, n + ' recommendation' + (n === 1 ? '' : 's') + (cautions ? ' and ' + cautions + ' caution' + (cautions === 1 ? '' : 's') : '') +
      ', each computed from this run\u2019s numbers. Details and evidence are on the Executive Summary.');
  } };

  // ---------------------------------------------------------------- lifetime value

  function fmtParams(params, model) {
    return (params || []).filter(function (p) { return p[0] === model; })
      .map(function (p) { return p[1] + ' ' + fmt.num(p[2], 3); }).join(', ');
  }

  VIEWS.clvKpis = { kind: 'kpi', aware: false, render: function (el) {
    var c = D.clv;
    if (!c) { empty(el, 'fluz clv'); return; }
    var all = (c.holdout || []).filter(function (r) { return r.calibration_frequency === 'all'; })[0];
    kpiCards(el, [
      { label: 'Customers modelled', value: fmt.int(c.customers), sub: fmt.int(c.valued) + ' with a repeat purchase (a CLV)' },
      { label: 'Total CLV', value: fmt.moneyShort(c.total_clv), sub: 'discounted expected margin' },
      { label: 'Mean P(alive)', value: fmt.pct(c.mean_p_alive), sub: 'BG/NBD: ' + fmtParams(c.parameters, 'bgnbd') },
      { label: 'Valuable but slipping', value: fmt.int(c.slipping_count), sub: c.slipping_count ? fmt.moneyShort(c.slipping_clv) + ' of CLV, P(alive) < 0.5' : 'none with P(alive) < 0.5', tone: c.slipping_count ? 'bad' : null },
      { label: '"Valuable" means', value: 'CLV ≥ ' + fmt.money(c.valuable_threshold), sub: 'the top quarter of CLV' },
      { label: 'Holdout purchases', value: all ? fmt.num(all.actual_mean, 2) : '—', sub: all ? 'per customer observed, ' + fmt.num(all.expected_mean, 2) + ' expected' : 'no holdout: set [clv] calibration_end' }
    ]);
  } };

  VIEWS.clvBySegment = { kind: 'chart', aware: true, render: function (el) {
    if (!D.clv) { empty(el, 'fluz clv'); return; }
    var fig = D.figures && D.figures.clv_by_segment;
    if (!fig) { empty(el, 'fluz segment', 'CLV by persona needs the segments'); return; }
    figure(el, fig);
  } };


  VIEWS.clvHoldout = { kind: 'chart', aware: false, render: function (el) {
    if (!D.clv) { empty(el, 'fluz clv'); return; }
    var fig = D.figures && D.figures.clv_holdout;
    if (!fig) { empty(el, 'fluz clv', 'Set [clv] calibration_end to keep a holdout period'); return; }
    figure(el, fig);
  } };

  VIEWS.slippingNote = { kind: 'text', aware: false, render: function (el) {
    var c = D.clv;
    if (!c) { empty(el, 'fluz clv'); return; }
    lede(el, c.slipping_count
      ? fmt.int(c.slipping_count) + ' customers have a CLV in the top quarter (≥ ' + fmt.money(c.valuable_threshold) + ') but P(alive) below 0.5: together ' +
        fmt.money(c.slipping_clv) + ' of expected value at risk.' + (c.slipping_count > c.slipping.length ? ' The ' + fmt.int(c.slipping.length) + ' with the highest CLV are listed.' : '')
      : 'No customer in the top quarter of CLV (≥ ' + fmt.money(c.valuable_threshold) + ') has P(alive) below 0.5.' +
        (c.mean_p_alive > 0.98 ? ' The BG/NBD fit sees almost no dropout in these purchases (mean P(alive) ' + fmt.pct(c.mean_p_alive) +
          '; ' + fmtParams(c.parameters, 'bgnbd') + '), so nobody looks gone; a [clv] penalizer or a longer history changes that.' : ''));
  } };

  VIEWS.slippingTable = { kind: 'table', aware: true, render: function (el) {
    if (!D.clv) { empty(el, 'fluz clv'); return; }
    var rows = (D.clv.slipping || []).filter(function (r) { return r.cluster == null || inSegment(r.cluster); });
    if (!rows.length) { nothing(el, D.clv.slipping_count ? 'No valuable but slipping customer in this segment.' : 'No valuable but slipping customer.'); return; }
    table(el, [
      { key: 'customer_id', label: 'Customer', num: true, format: String },
      { key: 'persona', label: 'Persona', get: function (r) { return r.cluster == null ? '' : 'C' + r.cluster + ' · ' + r.persona; } },
      { key: 'clv', label: 'CLV', num: true, format: fmt.money },
      { key: 'p_alive', label: 'P(alive)', num: true, format: fmt.pct },
      { key: 'frequency', label: 'Repeat purchases', num: true, format: fmt.int },
      { key: 'monetary_value', label: 'Mean purchase', num: true, format: fmt.money },
      { key: 'expected_purchases', label: 'Expected purchases', num: true, format: function (v) { return fmt.num(v, 2); } }
    ], rows, { sortKey: 'clv', maxRows: 25 });
  } };

  // ---------------------------------------------------------------- offer test

  VIEWS.offerKpis = { kind: 'kpi', aware: false, render: function (el) {
    var o = D.offers;
    if (!o) { empty(el, 'fluz uplift'); return; }
    var rec = (o.policies || []).filter(function (p) { return p.kind === 'recommended'; })[0];
    // The learner whose personalised policy gains most over the best single arm: the evidence
    // the recommendation rests on.
    var best = (o.policies || []).filter(function (p) { return p.kind === 'learner' && isNum(p.gain); })
      .sort(function (a, b) { return b.gain - a.gain; })[0];
    kpiCards(el, [
      { label: 'Customers in the test', value: fmt.int(o.customers), sub: fmt.int(o.test_customers) + ' held out for evaluation' },
      { label: 'Arms', value: String((o.arms || []).length), sub: (o.arms || []).join(' · ') },
      { label: 'Outcomes learned', value: String((o.outcomes || []).length), sub: (o.outcomes || []).join(', ') + '; value in ' + o.outcome },
      { label: 'Recommended policy value', value: rec ? fmt.money(rec.dr) : '—', sub: rec ? 'per held-out customer, DR; 95% ' + fmt.money(rec.ci_low) + ' to ' + fmt.money(rec.ci_high) : '' },
      { label: 'Best personalised gain', value: best ? fmt.signedMoney(best.gain) : '—', tone: best ? (best.gain_ci_low > 0 ? 'good' : null) : null,
        sub: best ? best.policy + ' vs the best single arm, 95% ' + fmt.signedMoney(best.gain_ci_low) + ' to ' + fmt.signedMoney(best.gain_ci_high) : 'no learner fitted' }
    ]);
  } };

  VIEWS.offerRecommendation = { kind: 'text', aware: false, render: function (el) {
    var o = D.offers;
    var text = o ? (o.recommendation || 'No recommendation recorded.').replace(/^everyone:/, 'everyone ') : '';
    lede(el, text ? 'Recommended: ' + text : '', 'fluz uplift');
  } };

  VIEWS.qiniCurves = { kind: 'chart', aware: false, render: function (el) {
    var figs = (D.figures && D.figures.qini) || [];
    if (!D.offers || !figs.length) { empty(el, 'fluz uplift'); return; }
    if (S.qini == null) {
      // The last arm on the outcome the policies are valued in.
      var value = figs.filter(function (g) { return g.title.slice(-(D.offers.outcome.length + 3)) === ' — ' + D.offers.outcome; });
      S.qini = value.length ? value[value.length - 1].title : null;
    }
    pick(el, figs, '#qini-series', 'qini');
  } };

  function policyLabel(p) {
    if (p.kind === 'arm') { return 'everyone ' + p.policy.replace(/^everyone:/, ''); }
    return p.policy;
  }

  VIEWS.offerPolicies = { kind: 'chart', aware: false, render: function (el) {
    var fig = D.figures && D.figures.offer_policies;
    if (!D.offers || !fig) { empty(el, 'fluz uplift'); return; }
    figure(el, fig);
  } };


  VIEWS.offerBySegment = { kind: 'chart', aware: true, render: function (el) {
    if (!D.offers) { empty(el, 'fluz uplift'); return; }
    var fig = D.figures && D.figures.offer_by_segment;
    if (!fig) { empty(el, 'fluz segment', 'The arm per persona needs the segments'); return; }
    figure(el, fig);
  } };


  VIEWS.effectDrivers = { kind: 'chart', aware: false, render: function (el) {
    if (!D.offers) { empty(el, 'fluz uplift'); return; }
    var fig = D.figures && D.figures.effect_drivers;
    if (!fig) { empty(el, 'fluz explain', 'The effect model is fitted by explain, after uplift'); return; }
    figure(el, fig);
  } };


  VIEWS.offerPolicyTable = { kind: 'table', aware: false, render: function (el) {
    var o = D.offers;
    if (!o || !(o.policies || []).length) { empty(el, 'fluz uplift'); return; }
    var truth = o.policies.some(function (p) { return isNum(p.true_value); });
    var cols = [
      { key: 'policy', label: 'Policy', get: policyLabel },
      { key: 'dr', label: 'DR value', num: true, format: fmt.money2 },
      { key: 'ci', label: '95% interval', get: function (p) { return isNum(p.ci_low) ? fmt.money(p.ci_low) + '–' + fmt.money(p.ci_high) : null; } },
      { key: 'ipw', label: 'IPW value', num: true, format: fmt.money2 }
    ];
    if (truth) {
      cols.push({ key: 'true_value', label: 'True value', num: true, format: fmt.money2 });
      cols.push({ key: 'regret_pct', label: 'Regret', num: true, format: function (v) { return isNum(v) ? fmt.num(v, 2) + '%' : '—'; } });
    }
    table(el, cols, o.policies, { sortKey: 'dr', highlight: function (p) { return p.kind === 'recommended'; } });
  } };

  // ---------------------------------------------------------------- budget

  function budgetPoint() {
    var b = D.budget;
    var n = b.cost.length;
    if (S.budgetPoint == null || S.budgetPoint >= n) {
      // Start at the chosen budget: the last breakpoint not above what the allocation spent.
      var k = 0;
      for (var i = 0; i < n; i++) { if (b.cost[i] <= b.integer_cost * (1 + 1e-9)) { k = i; } }
      S.budgetPoint = k;
    }
    return S.budgetPoint;
  }

  VIEWS.budgetKpis = { kind: 'kpi', aware: false, render: function (el) {
    var b = D.budget;
    if (!b) { empty(el, 'fluz allocate'); return; }
    kpiCards(el, [
      { label: 'Budget', value: fmt.money(b.budget), sub: b.budget_basis },
      { label: 'Allocation earns', value: fmt.money(b.integer_value), sub: 'spending ' + fmt.money(b.integer_cost) + (b.capped ? ' (all that helps)' : '') },
      { label: 'Shadow price λ', value: fmt.num(b.lambda, 3), sub: 'one more unit of budget earns this' },
      { label: 'Customers', value: fmt.int(b.customers), sub: 'values from ' + b.source },
      { label: 'Held-out check (DR)', value: isNum(b.heldout_dr_value) ? fmt.money(b.heldout_dr_value) : '—',
        sub: isNum(b.heldout_dr_value) ? 'on ' + fmt.int(b.heldout_customers) + ' held-out customers; model says ' + fmt.money(b.heldout_model_value) : 'values not from an offer test' }
    ]);
  } };

  VIEWS.budgetSentence = { kind: 'text', aware: false, render: function (el) {
    var b = D.budget;
    if (!b) { empty(el, 'fluz allocate'); return; }
    var text = b.sentence.charAt(0).toUpperCase() + b.sentence.slice(1) + '.';
    if (b.heldout_sentence) { text += ' Checked ' + b.heldout_sentence + '.'; }
    lede(el, text);
  } };

  VIEWS.budgetSlider = { kind: 'text', aware: false, render: function (el) {
    var b = D.budget;
    if (!b || !b.cost.length) { empty(el, 'fluz allocate'); return; }
    var k = budgetPoint();
    if (!el._built) {
      clear(el);
      var row = html('div', 'slider-row', null, el);
      var label = html('label', null, 'Budget', row);
      label.htmlFor = 'budget-range';
      var input = html('input', null, null, row);
      input.type = 'range';
      input.id = 'budget-range';
      input.min = '0';
      input.max = String(b.cost.length - 1);
      input.step = '1';
      input.setAttribute('aria-label', 'Budget along the value curve');
      input.addEventListener('input', function () {
        S.budgetPoint = Number(input.value);
        renderView(el);
        $all('[data-view="budgetCurve"], [data-view="budgetArms"]').forEach(renderView);
      });
      html('div', 'slider-readout', null, el);
      el._built = true;
    }
    el.removeAttribute('data-empty');
    var range = $('#budget-range', el);
    range.value = String(k);
    var counts = b.counts[k] || [];
    var base = b.value[0];
    var out = $('.slider-readout', el);
    clear(out);
    out.appendChild(document.createTextNode('Spending '));
    html('strong', null, fmt.money(b.cost[k]), out);
    out.appendChild(document.createTextNode(' earns '));
    html('strong', null, fmt.money(b.value[k]), out);
    out.appendChild(document.createTextNode((isNum(base) && base !== 0 ? ' (' + fmt.signedMoney(b.value[k] - base) + ' over no budget)' : '') +
      '; the next unit earns λ = ' + fmt.num(b.lambda_at[k], 3) + '. Customers: ' +
      (b.arms || []).map(function (a, i) { return a + ' ' + fmt.int(counts[i]); }).join(' · ') + '.'));
  } };

  /** A budget figure with the slider's budget marked (and its point on the value curve). */
  function budgetFigure(el, fig, onCurve) {
    var b = D.budget;
    if (!b || !b.cost.length || !fig) { empty(el, 'fluz allocate'); return; }
    var p = figure(el, fig), k = budgetPoint();
    svg('line', { x1: p.x(b.cost[k]), x2: p.x(b.cost[k]), y1: 0, y2: p.f.ih, 'class': 'ref' }, p.f.g);
    if (onCurve) {
      svg('circle', { cx: p.x(b.cost[k]), cy: p.y(b.value[k]), r: 6.5, fill: ACCENT, stroke: '#fff', 'stroke-width': 1.5, 'class': 'mark',
        'data-tip': 'Budget ' + fmt.money(b.cost[k]) + '\nValue ' + fmt.money(b.value[k]) + '\nλ ' + fmt.num(b.lambda_at[k], 3) }, p.f.g);
    }
  }

  VIEWS.budgetCurve = { kind: 'chart', aware: false, render: function (el) { budgetFigure(el, D.figures && D.figures.budget, true); } };

  VIEWS.budgetArms = { kind: 'chart', aware: false, render: function (el) { budgetFigure(el, D.figures && D.figures.budget_arms, false); } };

  VIEWS.budgetFlatTable = { kind: 'table', aware: false, render: function (el) {
    var b = D.budget;
    if (!b || !(b.flat || []).length) { empty(el, 'fluz allocate'); return; }
    table(el, [
      { key: 'arm', label: 'Everyone on' },
      { key: 'cost', label: 'Cost', num: true, format: fmt.money },
      { key: 'value', label: 'Flat value', num: true, format: fmt.money },
      { key: 'targeted_value', label: 'Targeted, same cost', num: true, format: fmt.money },
      { key: 'gain', label: 'Gain', num: true, format: fmt.signedMoney },
      { key: 'gain_pct', label: 'Gain %', num: true, format: function (v) { return isNum(v) ? (v >= 0 ? '+' : '') + fmt.num(v, 1) + '%' : '—'; } }
    ], b.flat, { sortKey: 'cost', desc: false, highlight: function (p) { return p.arm === b.flat_arm; } });
  } };

  // ---------------------------------------------------------------- navigation

  function renderView(el) {
    if (!el) { return; }
    var v = VIEWS[el.getAttribute('data-view')];
    if (!v) { return; }
    var t0 = performance.now();
    try {
      v.render(el);
      var name = el.getAttribute('data-view');
      viewMs[name] = (viewMs[name] || 0) + performance.now() - t0;
    } catch (e) {
      // One broken view must not take the page down; the self-test reports it.
      guard.errors.push(el.getAttribute('data-view') + ': ' + (e && e.message));
      clear(el);
      el.setAttribute('data-empty', 'error');
      html('div', 'empty', 'Could not draw this view: ' + (e && e.message), el);
    }
  }

  function updateSubs(root) {
    var seg = selectedSegment();
    $all('[data-sub]', root).forEach(function (s) { s.textContent = seg ? ' · ' + segLabel(seg) : ''; });
  }

  function renderScope(root) {
    if (!root) { return; }
    var views = $all('[data-view]', root);
    views.forEach(function (el) { el._width = el.clientWidth; });
    views.forEach(renderView);
    views.forEach(function (el) { el._width = null; });
    updateSubs(root);
  }

  function panel(name) { return document.getElementById('panel-' + name); }
  function slideEl(n) { return $('.slide[data-slide="' + n + '"]'); }
  function activeScope() { return S.tab === 'story' ? slideEl(S.slide) : panel(S.tab); }
  function renderActive() { renderScope(activeScope()); }

  function updateHash() {
    if (SELFTEST) { return; }
    var h = '#tab=' + S.tab + (S.tab === 'story' ? '&slide=' + S.slide : '') + (S.segment != null ? '&segment=' + S.segment : '');
    try { history.replaceState(null, '', h); } catch (e) { /* file:// in some browsers: keep the old hash */ }
  }

  function showTab(name, focus) {
    if (TABS.indexOf(name) < 0) { name = 'segments'; }
    S.tab = name;
    $all('[role="tab"]').forEach(function (b) {
      var on = b.getAttribute('data-tab') === name;
      b.setAttribute('aria-selected', on ? 'true' : 'false');
      b.tabIndex = on ? 0 : -1;
      b.classList.toggle('active', on);
      if (on && focus) { b.focus(); }
    });
    TABS.forEach(function (t) { panel(t).hidden = t !== name; });
    if (name === 'story') { showSlide(S.slide); } else { renderActive(); }
    updateHash();
  }

  function showSlide(n) {
    S.slide = Math.max(1, Math.min(NSLIDES, n | 0));
    $all('.slide').forEach(function (s) { s.hidden = Number(s.getAttribute('data-slide')) !== S.slide; });
    $all('#slide-dots button').forEach(function (b, i) {
      if (i + 1 === S.slide) { b.setAttribute('aria-current', 'step'); } else { b.removeAttribute('aria-current'); }
    });
    $('#slide-counter').textContent = S.slide + ' / ' + NSLIDES;
    $('#slide-prev').disabled = S.slide === 1;
    $('#slide-next').disabled = S.slide === NSLIDES;
    if (S.tab === 'story') { renderActive(); updateHash(); }
  }

  function setSegment(value) {
    var cluster = value === '' || value == null ? null : Number(value);
    S.segment = cluster != null && segmentIndex(cluster) >= 0 ? cluster : null;
    var sel = $('#segment-filter');
    sel.value = S.segment == null ? '' : String(S.segment);
    document.body.classList.toggle('filtered', S.segment != null);
    renderActive();
    updateHash();
  }

  function onKey(e) {
    var t = e.target;
    var tag = t && t.tagName ? t.tagName.toUpperCase() : '';
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || e.altKey || e.ctrlKey || e.metaKey) { return; }
    if (t && t.getAttribute && t.getAttribute('role') === 'tab' && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
      var i = TABS.indexOf(S.tab) + (e.key === 'ArrowRight' ? 1 : -1);
      showTab(TABS[(i + TABS.length) % TABS.length], true);
      e.preventDefault();
      return;
    }
    if (S.tab !== 'story') { return; }
    var map = { ArrowRight: S.slide + 1, PageDown: S.slide + 1, ArrowLeft: S.slide - 1, PageUp: S.slide - 1, Home: 1, End: NSLIDES };
    if (map[e.key] != null) { showSlide(map[e.key]); e.preventDefault(); }
  }

  function startPrint() {
    document.body.classList.add('printing');
    TABS.forEach(function (t) { if (t !== 'story') { renderScope(panel(t)); } });
    $all('.slide').forEach(renderScope);
  }

  function readHash() {
    var out = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (p) {
      if (!p) { return; }
      var kv = p.split('=');
      try { out[decodeURIComponent(kv[0])] = kv.length > 1 ? decodeURIComponent(kv[1]) : ''; } catch (e) { /* ignore malformed parts */ }
    });
    return out;
  }

  // ---------------------------------------------------------------- tooltip

  function setupTooltip() {
    var tip = document.getElementById('tooltip');
    function place(e) {
      var pad = 14, w = tip.offsetWidth, h = tip.offsetHeight;
      var x = e.clientX + pad, y = e.clientY + pad;
      if (x + w > window.innerWidth - 4) { x = e.clientX - w - pad; }
      if (y + h > window.innerHeight - 4) { y = e.clientY - h - pad; }
      tip.style.left = Math.max(4, x) + 'px';
      tip.style.top = Math.max(4, y) + 'px';
    }
    document.addEventListener('mouseover', function (e) {
      var m = e.target && e.target.closest ? e.target.closest('[data-tip]') : null;
      if (!m) { tip.hidden = true; return; }
      tip.textContent = m.getAttribute('data-tip');
      tip.hidden = false;
      m.classList.add('hover');
      place(e);
    });
    document.addEventListener('mousemove', function (e) { if (!tip.hidden) { place(e); } });
    document.addEventListener('mouseout', function (e) {
      var m = e.target && e.target.closest ? e.target.closest('[data-tip]') : null;
      if (m) { m.classList.remove('hover'); tip.hidden = true; }
    });
  }

  // ---------------------------------------------------------------- start-up

  /** The customers arrive as columns (see CustomerColumns in dashboard.rs); charts want rows. */
  function customerRows(cols) {
    if (Array.isArray(cols)) { return cols; }
    if (!cols || !Array.isArray(cols.customer_id)) { return []; }
    var keys = ['customer_id', 'cluster', 'total_spent', 'avg_item_price', 'recency_days', 'n_invoices', 'predicted_rate',
      'tier', 'recommended_rate', 'from_offer_test', 'optimal_rate', 'value_at_tier', 'value_at_oracle', 'drivers'];
    var personas = cols.personas || [];
    return cols.customer_id.map(function (_, i) {
      var row = {};
      keys.forEach(function (k) { row[k] = Array.isArray(cols[k]) ? cols[k][i] : null; });
      var p = (cols.persona || [])[i];
      row.persona = p != null && personas[p] != null ? personas[p] : '';
      row.drivers = row.drivers || '';
      return row;
    });
  }

  function init() {
    var block = document.getElementById('fluz-data');
    try {
      D = JSON.parse(block ? block.textContent : '{}');
    } catch (e) {
      guard.errors.push('data block: ' + e.message);
      D = {};
    }
    D.customers = customerRows(D.customers);
    ['pipeline', 'ingest_report', 'k_selection', 'segments', 'customers', 'tiers', 'models', 'shap_importance',
      'feature_importance', 'shap_points', 'merchants', 'recommendations'].forEach(function (k) { if (!Array.isArray(D[k])) { D[k] = []; } });
    D.kpis = D.kpis || {};
    D.meta = D.meta || {};
    fmt = makeFormats(D.meta.currency);
    NSLIDES = $all('.slide').length;

    var sel = $('#segment-filter');
    segments().forEach(function (s) {
      var opt = document.createElement('option');
      opt.value = String(s.cluster);
      opt.textContent = segLabel(s) + ' (' + fmt.pct(s.share_customers, 0) + ')';
      sel.appendChild(opt);
    });
    sel.disabled = !segments().length;
    sel.addEventListener('change', function () { setSegment(sel.value); });

    var dots = $('#slide-dots');
    for (var i = 1; i <= NSLIDES; i++) {
      (function (n) {
        var b = html('button', 'dot-btn', null, dots);
        b.type = 'button';
        b.setAttribute('aria-label', 'Slide ' + n);
        b.addEventListener('click', function () { showSlide(n); });
      })(i);
    }
    $('#slide-prev').addEventListener('click', function () { showSlide(S.slide - 1); });
    $('#slide-next').addEventListener('click', function () { showSlide(S.slide + 1); });
    $all('[role="tab"]').forEach(function (b) { b.addEventListener('click', function () { showTab(b.getAttribute('data-tab')); }); });
    document.addEventListener('keydown', onKey);
    setupTooltip();

    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(renderActive, 150);
    });
    // Printing shows every dashboard and slide; draw them all at print width first.
    window.addEventListener('beforeprint', startPrint);
    window.addEventListener('afterprint', function () { document.body.classList.remove('printing'); renderActive(); });

    var h = readHash();
    if (h.segment != null && h.segment !== '') { S.segment = segmentIndex(Number(h.segment)) >= 0 ? Number(h.segment) : null; sel.value = S.segment == null ? '' : String(S.segment); }
    if (h.slide) { S.slide = Number(h.slide) || 1; }
    showSlide(S.slide);
    showTab(h.tab || 'segments');
    if (h.print != null) { startPrint(); }
    if (SELFTEST) { selftest(); }
  }

  // ---------------------------------------------------------------- self-test (#selftest)

  function selftest() {
    var t0 = performance.now();
    var r = { pass: false, checks: 0, failures: [], empty_views: [], views_checked: 0, filter_changes: 0, ms: 0, load_ms: Math.round(t0) };
    function check(name, ok) { r.checks++; if (!ok) { r.failures.push(name); } }
    function press(key) { document.body.dispatchEvent(new KeyboardEvent('keydown', { key: key, bubbles: true })); }
    function tabButton(name) { return document.getElementById('tab-' + name); }
    function checkViews(label, root) {
      $all('[data-view]', root).forEach(function (el) {
        var name = el.getAttribute('data-view');
        var kind = VIEWS[name] ? VIEWS[name].kind : 'missing';
        r.views_checked++;
        check(label + ': view ' + name + ' is known', kind !== 'missing');
        var state = el.getAttribute('data-empty');
        if (state === 'error') { check(label + ': ' + name + ' rendered without error', false); return; }
        if (state) {
          r.empty_views.push(label + ':' + name);
          check(label + ': empty ' + name + ' explains itself', state === 'none' ? el.textContent.trim().length > 0 : /Not computed yet|segment/.test(el.textContent));
          return;
        }
        if (kind === 'chart') {
          var s = el.querySelector('svg');
          check(label + ': ' + name + ' has an SVG chart', !!s && s.querySelectorAll('rect, circle, path, line').length > 2);
          check(label + ': ' + name + ' has hover values', !!s && !!s.querySelector('[data-tip]'));
        } else if (kind === 'table') {
          check(label + ': ' + name + ' has rows', el.querySelectorAll('tbody tr').length > 0);
        } else {
          check(label + ': ' + name + ' has content', el.textContent.trim().length > 0);
        }
      });
    }
    function scopes() {
      var out = TABS.filter(function (t) { return t !== 'story'; }).map(function (t) { return { label: 'tab ' + t, tab: t }; });
      for (var n = 1; n <= NSLIDES; n++) { out.push({ label: 'slide ' + n, tab: 'story', slide: n }); }
      return out;
    }
    function activate(sc) { showTab(sc.tab); if (sc.slide) { showSlide(sc.slide); } return activeScope(); }

    // Tabs, by click.
    TABS.forEach(function (name) {
      tabButton(name).click();
      check('tab ' + name + ' is active after a click', S.tab === name && !panel(name).hidden && tabButton(name).getAttribute('aria-selected') === 'true');
      if (name !== 'story') { checkViews('tab ' + name, panel(name)); }
    });
    // Tabs, by keyboard on the tab list.
    tabButton('segments').click();
    tabButton('segments').dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    check('ArrowRight on the tab list moves to the next tab', S.tab === 'cashback');

    // Slides: next button, keyboard, dots.
    tabButton('story').click();
    showSlide(1);
    checkViews('slide 1', slideEl(1));
    for (var n = 2; n <= NSLIDES; n++) {
      if (n % 2 === 0) { press('ArrowRight'); } else { $('#slide-next').click(); }
      check('slide ' + n + ' is shown', S.slide === n && !slideEl(n).hidden && slideEl(n - 1).hidden);
      checkViews('slide ' + n, slideEl(n));
    }
    press('ArrowRight');
    check('ArrowRight stops at the last slide', S.slide === NSLIDES);
    press('ArrowLeft');
    check('ArrowLeft goes back', S.slide === NSLIDES - 1);
    press('Home');
    check('Home goes to slide 1', S.slide === 1);
    $all('#slide-dots button')[NSLIDES - 1].click();
    check('a dot jumps to its slide', S.slide === NSLIDES && $('#slide-counter').textContent === NSLIDES + ' / ' + NSLIDES);

    // Segment filter: every segment-aware chart changes for every segment.
    var sel = $('#segment-filter');
    check('the filter lists every segment', sel.options.length === segments().length + 1);
    scopes().forEach(function (sc) {
      var root = activate(sc);
      var aware = $all('[data-view]', root).filter(function (el) {
        var v = VIEWS[el.getAttribute('data-view')];
        return v && v.aware && v.kind === 'chart' && !el.getAttribute('data-empty');
      });
      var base = aware.map(function (el) { return el.innerHTML; });
      segments().forEach(function (s) {
        sel.value = String(s.cluster);
        sel.dispatchEvent(new Event('change', { bubbles: true }));
        check(sc.label + ': filter selects C' + s.cluster, S.segment === s.cluster);
        aware.forEach(function (el, i) {
          var changed = el.innerHTML !== base[i];
          if (changed) { r.filter_changes++; }
          check(sc.label + ': filter C' + s.cluster + ' changes ' + el.getAttribute('data-view'), changed);
        });
      });
      sel.value = '';
      sel.dispatchEvent(new Event('change', { bubbles: true }));
      check(sc.label + ': filter resets', S.segment == null);
    });

    // Dependence feature selector.
    var dep = $('#dependence-feature');
    if (dep && dep.options.length > 1) {
      showTab('explain');
      var depEl = $('[data-view="dependence"]');
      var before = depEl.innerHTML;
      dep.value = dep.options[1].value;
      dep.dispatchEvent(new Event('change'));
      check('the dependence selector changes the chart', depEl.innerHTML !== before);
    }

    // Budget slider: moving it moves the marker on the curve and the customers per arm.
    var range = $('#budget-range');
    if (range && D.budget && D.budget.cost.length > 1) {
      showTab('budget');
      var curveEl = $('[data-view="budgetCurve"]'), armsEl = $('[data-view="budgetArms"]'), readout = $('.slider-readout');
      var before = [curveEl.innerHTML, armsEl.innerHTML, readout.textContent];
      range.value = range.value === '0' ? range.max : '0';
      range.dispatchEvent(new Event('input', { bubbles: true }));
      check('the budget slider moves the curve marker', curveEl.innerHTML !== before[0]);
      check('the budget slider changes the customers per arm', armsEl.innerHTML !== before[1] || D.budget.counts.length < 2);
      check('the budget slider changes the readout', readout.textContent !== before[2] && /Spending/.test(readout.textContent));
    }
    // Qini selector: another outcome or arm draws other curves.
    var qs = $('#qini-series');
    if (qs && qs.options.length > 1) {
      showTab('offers');
      var qEl = $('[data-view="qiniCurves"]');
      var qBefore = qEl.innerHTML;
      qs.value = qs.options[qs.selectedIndex === 0 ? 1 : 0].value;
      qs.dispatchEvent(new Event('change'));
      check('the Qini selector changes the chart', qEl.innerHTML !== qBefore);
    }

    // Merchant names stay text: each name is exactly one cell's text, and no img element exists.
    showTab('summary');
    var cells = $all('[data-view="merchantTable"] td').map(function (td) { return td.textContent; });
    D.merchants.forEach(function (m) { check('merchant name shown as text: ' + m.name, cells.indexOf(m.name) >= 0); });
    check('no img element in the page', document.getElementsByTagName('img').length === 0);
    check('only the two page scripts exist', document.getElementsByTagName('script').length === 2);
    check('no alert() was called', guard.alerts.length === 0);

    // Sorting: clicking "Spend" sorts, clicking again reverses.
    var mt = $('[data-view="merchantTable"]');
    if (D.merchants.length > 1) {
      var spendCol = function () {
        var heads = $all('th', mt).map(function (th) { return th.textContent.replace(/[▲▼ ]+$/, ''); });
        var ci = heads.indexOf('Spend');
        return $all('tbody tr', mt).map(function (tr) { return Number(tr.children[ci].textContent.replace(/[^0-9.\-]/g, '')); });
      };
      var btn = function () { return $all('button.sort', mt).filter(function (b) { return b.getAttribute('data-key') === 'spend'; })[0]; };
      btn().click();
      var asc = spendCol();
      btn().click();
      var desc = spendCol();
      var sortedAsc = asc.slice().sort(function (a, b) { return a - b; });
      check('sorting by Spend ascending', JSON.stringify(asc) === JSON.stringify(sortedAsc));
      check('sorting by Spend descending', JSON.stringify(desc) === JSON.stringify(sortedAsc.slice().reverse()));
    }

    // Hover shows the mark's value in the tooltip.
    var mark = $('#panel-summary [data-tip]') || $('[data-tip]');
    if (mark) {
      mark.dispatchEvent(new MouseEvent('mouseover', { bubbles: true, clientX: 200, clientY: 200 }));
      var tip = document.getElementById('tooltip');
      check('hover shows the tooltip', !tip.hidden && tip.textContent === mark.getAttribute('data-tip') && tip.textContent.length > 0);
      mark.dispatchEvent(new MouseEvent('mouseout', { bubbles: true }));
      check('the tooltip hides again', tip.hidden);
    }

    check('no network requests', performance.getEntriesByType('resource').length === 0);
    check('no CSP violations: ' + guard.csp.join('; '), guard.csp.length === 0);
    check('no script errors: ' + guard.errors.join('; '), guard.errors.length === 0);

    showTab('segments');
    r.ms = Math.round(performance.now() - t0);
    r.render_ms = {};
    Object.keys(viewMs).sort(function (a, b) { return viewMs[b] - viewMs[a]; }).forEach(function (k) { r.render_ms[k] = Math.round(viewMs[k]); });
    r.pass = r.failures.length === 0;
    var pre = document.createElement('pre');
    pre.id = 'selftest-result';
    pre.textContent = JSON.stringify(r);
    document.body.appendChild(pre);
    document.title = r.pass ? 'selftest:pass' : 'selftest:fail';
  }

  document.addEventListener('DOMContentLoaded', init);
})();
