// One experiment (/experiments/{id}): its header, the table of its trials (sorted, filtered and
// paged by the server: /table holds every trial, the page only the rows it shows), and the chart
// sections, each loaded when scrolled into view. Everything updates live.
'use strict';
(() => {
  const { el } = hpt;
  const id = hpt.pathId();
  const api = '/api/experiments/' + encodeURIComponent(id);
  let experiment = null;
  let rows = [];          // the rows shown, as the server sent them
  let params = [];        // the searched space: [{name, type, scale, min, max, choices}]
  let parallelKept = null;  // ids of the parallel chart's lines the filter keeps, or null: none filtered
  let sort = { key: 'objective', dir: 0 };  // dir 0: best first for the goal, then toggles asc/desc
  const filters = { status: '', ranges: {} };  // ranges: name -> {min, max} or {value}
  // Ranges brushed on the parallel-coordinates axes: axis name -> {objective, lo, hi} (numbers)
  // or {objective, values: [choices]} (a category axis), with the pixel range drawn (y0, y1).
  const brushes = new Map();
  const seen = new Set();

  function renderSummary(e) {
    experiment = e;
    // The Pareto front is a chart of experiments with several objectives only.
    const pareto = document.getElementById('chart-pareto');
    if (pareto && !(e.objectives && e.objectives.length > 1)) pareto.remove();
    document.title = 'hpt · ' + e.name;
    document.getElementById('exp-name').textContent = e.name + ' (' + e.id + ')';
    document.getElementById('exp-status').replaceChildren(hpt.badge(e.status));
    const p = hpt.progress(e.trials, e.max_trials);
    const bar = document.getElementById('exp-bar');
    bar.style.width = (p.total ? 100 * p.done / p.total : 0) + '%';
    const fact = (name, value) => el('div', {}, el('dt', {}, name), el('dd', {}, value));
    const lasted = (e.ended_at !== null ? e.ended_at : Date.now() / 1000) - e.created_at;
    document.getElementById('exp-facts').replaceChildren(...[
      fact('progress', p.text),
      fact('running', e.trials.running),
      fact('failed / stopped', e.trials.failed + ' / ' + e.trials.stopped),
      fact('best ' + e.objective.metric + ' (' + e.objective.goal + ')',
           e.best ? el('span', {}, hpt.num(e.best.objective), ' ', el('a', { href: '/trials/' + e.best.trial }, 'trial ' + e.best.number)) : '—'),
      fact('strategy', e.strategy),
      // A warm start: the parent observations the strategy learned from, each parent's best beside.
      e.warm_start ? fact('warm start (' + e.warm_start.type + ')',
          el('span', {}, e.warm_start.observations + ' from ',
             ...e.warm_start.parents.flatMap((q, i) => [i ? ', ' : '',
               el('a', { href: '/experiments/' + q.id }, q.name),
               q.best !== null ? ' (best ' + hpt.num(q.best) + ')' : '']))) : null,
      fact('started', hpt.time(e.created_at)),
      fact('duration', hpt.duration(lasted)),
      e.reason ? fact('reason', e.reason) : null].filter(Boolean));
  }

  // Columns: [key, label, numeric, value(trial)]; the key is the server's sort key.
  function columns() {
    return [
      ['number', '#', true, (t) => t.number],
      ['trial', 'trial', true, (t) => t.trial],
      ['status', 'status', false, (t) => t.status],
      ['objective', experiment ? experiment.objective.metric : 'objective', true, (t) => t.objective],
      ...params.map((p) => ['param:' + p.name, p.name, true, (t) => t.params[p.name]]),
      ['attempt', 'attempts', true, (t) => t.attempt],
      ['duration', 'duration', true, (t) => t.duration],
      ['started_at', 'started', true, (t) => t.started_at],
    ];
  }

  function effectiveDir() {
    if (sort.dir !== 0) return sort.dir;
    return sort.key === 'objective' && experiment && experiment.objective.goal === 'maximize' ? -1 : 1;
  }

  function renderHead() {
    const row = document.querySelector('#trials thead tr');
    row.replaceChildren(...columns().map(([key, label, numeric]) => {
      const th = el('th', { class: numeric ? 'num' : null, dataset: { key } }, label);
      if (key === sort.key) th.setAttribute('aria-sort', effectiveDir() < 0 ? 'descending' : 'ascending');
      th.addEventListener('click', () => {
        if (sort.key === key) sort.dir = -effectiveDir();
        else sort = { key, dir: 1 };
        renderHead();
        loadRows();
      });
      return th;
    }));
  }

  // The table's query: sort, status, and per column the tightest of its range inputs and its brush.
  function tableQuery() {
    const q = new URLSearchParams();
    q.set('sort', sort.key);
    q.set('order', sort.dir === 0 ? 'best' : sort.dir > 0 ? 'asc' : 'desc');
    if (filters.status) q.set('status', filters.status);
    const lows = {}, highs = {}, sets = {};
    const tighten = (name, lo, hi) => {
      if (lo !== undefined && lo !== '' && !Number.isNaN(Number(lo))) lows[name] = Math.max(lows[name] ?? -Infinity, Number(lo));
      if (hi !== undefined && hi !== '' && !Number.isNaN(Number(hi))) highs[name] = Math.min(highs[name] ?? Infinity, Number(hi));
    };
    for (const [name, range] of Object.entries(filters.ranges)) {
      tighten(name, range.min, range.max);
      if (range.value !== undefined && range.value !== '') {
        const p = params.find((x) => x.name === name);
        const choice = p ? p.choices.find((c) => String(c) === range.value) : undefined;
        sets[name] = [choice === undefined ? range.value : choice];
      }
    }
    for (const [name, b] of brushes) {
      const column = b.objective ? 'objective' : name;
      if (b.values) sets[column] = sets[column] ? sets[column].filter((v) => b.values.some((w) => String(w) === String(v))) : b.values;
      else tighten(column, b.lo, b.hi);
    }
    for (const [name, v] of Object.entries(lows)) q.set('min.' + name, String(v));
    for (const [name, v] of Object.entries(highs)) q.set('max.' + name, String(v));
    for (const [name, v] of Object.entries(sets)) q.set('in.' + name, JSON.stringify(v));
    q.set('limit', String(rowLimit));
    return q;
  }

  const kRowPage = 100;
  let rowLimit = kRowPage;
  document.getElementById('more-rows').addEventListener('click', () => { rowLimit += kRowPage; loadRows(); });

  // Asks the server for the rows; an answer to an older question than the latest is dropped.
  let asked = 0;
  function loadRows() {
    fetchRows().then(() => hpt.showError(null), hpt.showError);
  }
  async function fetchRows() {
    const mine = ++asked;
    const answer = await hpt.getJSON(api + '/table?' + tableQuery().toString());
    if (mine !== asked) return;
    const names = answer.params.map((p) => p.name).join(',');
    const headChanged = names !== params.map((p) => p.name).join(',') || !document.querySelector('#trials thead th');
    params = answer.params;
    renderFilters();
    if (headChanged) renderHead();
    rows = answer.rows;
    parallelKept = answer.parallel === null ? null : new Set(answer.parallel.map(String));
    renderRows(answer);
  }

  function renderRows(answer) {
    const cols = columns();
    const body = document.querySelector('#trials tbody');
    body.replaceChildren(...rows.map((t) => {
      const href = '/trials/' + t.trial;
      const fresh = seen.size > 0 && !seen.has(t.trial + ':' + t.status);
      const cells = cols.map(([key, , numeric, value]) => {
        const v = value(t);
        let content;
        if (key === 'trial') content = el('a', { href }, v);
        else if (key === 'status') content = hpt.badge(v);
        else if (key === 'duration') content = hpt.duration(v);
        else if (key === 'started_at') content = hpt.time(v);
        else content = hpt.num(v);
        return el('td', { class: numeric && key !== 'started_at' ? 'num' : null }, content);
      });
      return el('tr', { class: 'link' + (fresh ? ' flash' : ''), dataset: { trial: t.trial, status: t.status },
                        onclick: (ev) => { if (!ev.target.closest('a')) location.href = href; } }, cells);
    }));
    seen.clear();
    for (const t of rows) seen.add(t.trial + ':' + t.status);
    document.getElementById('row-count').textContent = answer.matched + ' of ' + answer.total + ' trials' +
      (answer.matched > rows.length ? ' (first ' + rows.length + ' shown)' : '');
    const more = document.getElementById('more-rows');
    more.hidden = answer.matched <= rows.length;
    more.textContent = 'show ' + Math.min(kRowPage, answer.matched - rows.length) + ' more';
    dimParallelLines();
  }

  function renderFilters() {
    const statusSelect = document.getElementById('filter-status');
    if (statusSelect.options.length === 1) {
      for (const s of ['pending', 'running', 'completed', 'failed', 'stopped']) statusSelect.append(el('option', { value: s }, s));
      statusSelect.addEventListener('change', () => { filters.status = statusSelect.value; loadRows(); });
    }
    const box = document.getElementById('filter-params');
    const names = params.map((p) => p.name).join(',');
    if (box.dataset.names === names) return;
    box.dataset.names = names;
    const typing = hpt.coalesce(loadRows, 250);
    box.replaceChildren(...params.map((p) => {
      filters.ranges[p.name] = {};
      const update = (field, now) => (ev) => { filters.ranges[p.name][field] = ev.target.value; (now ? loadRows : typing)(); };
      if (p.type === 'categorical') {
        const select = el('select', { name: 'param-' + p.name, onchange: update('value', true) }, el('option', { value: '' }, 'any'),
          ...p.choices.map((v) => el('option', { value: String(v) }, String(v))));
        return el('label', { class: 'range' }, el('b', {}, p.name), ' ', select);
      }
      return el('label', { class: 'range' }, el('input', { type: 'number', step: 'any', placeholder: 'min', name: 'min-' + p.name, oninput: update('min') }),
        ' ≤ ', el('b', {}, p.name), ' ≤ ',
        el('input', { type: 'number', step: 'any', placeholder: 'max', name: 'max-' + p.name, oninput: update('max') }));
    }));
  }

  async function load() {
    try {
      await Promise.all([hpt.getJSON(api).then(renderSummary), fetchRows()]);
      renderHead();  // the objective's name and goal are known now
      hpt.showError(null);
    } catch (error) {
      hpt.showError(error);
    }
  }

  document.getElementById('filters').addEventListener('reset', () => {
    filters.status = '';
    for (const name of Object.keys(filters.ranges)) filters.ranges[name] = {};
    brushes.clear();
    redrawBrushes();
    setTimeout(loadRows, 0);
  });

  // ---- Brushing the parallel coordinates: drag along an axis to keep the trials whose value on
  // it lies in the dragged range; a click on the axis clears its range. The chart's axes say how
  // pixels map to values (docs/plots.md), so the table filters every trial, drawn or not.
  function parallelSvg() { return document.querySelector('#chart-parallel svg.hpt-plot'); }

  function axisX(svg, index) {
    const line = svg.querySelector('polyline.mark');
    if (!line || line.points.numberOfItems <= index) return null;
    return line.points.getItem(index).x;
  }

  // The values an axis holds between pixels y0 and y1.
  function brushOf(g, y0, y1, objective) {
    const d = g.dataset;
    const p0 = Number(d.pxMin), p1 = Number(d.pxMax);
    const f0 = (y0 - p0) / (p1 - p0), f1 = (y1 - p0) / (p1 - p0);
    const lo = Math.min(f0, f1), hi = Math.max(f0, f1);
    if (d.scale === 'category') {
      const choices = JSON.parse(d.categories || '[]');
      const values = choices.filter((c, i) => (i + 0.5) / choices.length >= lo && (i + 0.5) / choices.length <= hi);
      return { objective, values, y0, y1 };
    }
    const warp = d.scale === 'log' ? Math.log : d.scale === 'reverse_log' ? (x) => -Math.log(1 - x) : (x) => x;
    const unwarp = d.scale === 'log' ? Math.exp : d.scale === 'reverse_log' ? (u) => 1 - Math.exp(-u) : (u) => u;
    const a = warp(Number(d.min)), b = warp(Number(d.max));
    return { objective, lo: unwarp(a + lo * (b - a)), hi: unwarp(a + hi * (b - a)), y0, y1 };
  }

  function redrawBrushes() {
    const svg = parallelSvg();
    if (!svg) return;
    for (const old of svg.querySelectorAll('rect.brush')) old.remove();
    const axes = [...svg.querySelectorAll('g.axis[data-orient="y"]')];
    axes.forEach((g, index) => {
      const b = brushes.get(g.dataset.param);
      const x = axisX(svg, index);
      if (!b || x === null) return;
      const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      rect.setAttribute('class', 'brush');
      rect.setAttribute('x', x - 7);
      rect.setAttribute('width', 14);
      rect.setAttribute('y', Math.min(b.y0, b.y1));
      rect.setAttribute('height', Math.max(1, Math.abs(b.y1 - b.y0)));
      svg.append(rect);
    });
    const note = document.getElementById('brush-note');
    if (note) {
      note.textContent = brushes.size ? 'brushed: ' + [...brushes.entries()].map(([name, b]) => b.values
        ? name + ' ∈ {' + [...b.values].join(', ') + '}' : hpt.num(b.lo) + ' ≤ ' + name + ' ≤ ' + hpt.num(b.hi)).join(', ') : '';
    }
  }

  // The server says which of the chart's lines the filter keeps (null: nothing is filtered).
  function dimParallelLines() {
    const svg = parallelSvg();
    if (!svg) return;
    for (const line of svg.querySelectorAll('.mark')) line.classList.toggle('dimmed', parallelKept !== null && !parallelKept.has(line.dataset.trial));
  }

  function attachBrushing(svg) {
    const axes = [...svg.querySelectorAll('g.axis[data-orient="y"]')];
    const toSvg = (ev) => {
      const pt = svg.createSVGPoint();
      pt.x = ev.clientX;
      pt.y = ev.clientY;
      return pt.matrixTransform(svg.getScreenCTM().inverse());
    };
    axes.forEach((g, index) => {
      const x = axisX(svg, index);
      if (x === null) return;
      const top = Math.min(Number(g.dataset.pxMin), Number(g.dataset.pxMax));
      const bottom = Math.max(Number(g.dataset.pxMin), Number(g.dataset.pxMax));
      const grip = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      grip.setAttribute('class', 'brush-grip');
      grip.setAttribute('x', x - 10);
      grip.setAttribute('width', 20);
      grip.setAttribute('y', top);
      grip.setAttribute('height', bottom - top);
      grip.dataset.param = g.dataset.param;
      const objective = index === axes.length - 1;  // the last axis is the objective
      grip.addEventListener('pointerdown', (down) => {
        down.preventDefault();
        grip.setPointerCapture(down.pointerId);
        const start = Math.min(bottom, Math.max(top, toSvg(down).y));
        let end = start;
        const move = (ev) => {
          end = Math.min(bottom, Math.max(top, toSvg(ev).y));
          brushes.set(g.dataset.param, brushOf(g, start, end, objective));
          redrawBrushes();
        };
        const up = () => {
          grip.removeEventListener('pointermove', move);
          grip.removeEventListener('pointerup', up);
          if (Math.abs(end - start) < 3) brushes.delete(g.dataset.param);  // a click clears
          else brushes.set(g.dataset.param, brushOf(g, start, end, objective));
          redrawBrushes();
          loadRows();
        };
        grip.addEventListener('pointermove', move);
        grip.addEventListener('pointerup', up);
      });
      svg.append(grip);
    });
    redrawBrushes();
  }

  // Marks per chart on the page: a chart about 900 px wide shows no more than this many apart
  // (hpt plot draws 2000 for print), and the browser parses and lays out half as much SVG.
  // (dashboard/server.cc draws the newest experiment's charts ahead with the same query.)
  const kChartMarks = 1000;

  // Charts: each section asks for its SVG once it is (nearly) on screen. A 404 (no such chart,
  // or this build serves none yet) leaves a short note, never a broken page.
  async function loadChart(section) {
    const body = section.querySelector('.chart-body');
    const kind = section.dataset.kind;
    body.replaceChildren(el('p', { class: 'note' }, 'loading…'));
    try {
      const url = kind === 'compare' ? compareUrl(section) : api + '/plots/' + kind + '.svg?max_marks=' + kChartMarks;
      const response = await fetch(url, { credentials: 'same-origin' });
      const type = response.headers.get('content-type') || '';
      if (!response.ok || !type.startsWith('image/svg+xml')) throw new Error(String(response.status));
      const text = await response.text();
      // Parsed by the page's own HTML parser (an <svg> in HTML is SVG, as in the document): at
      // 1,000 marks a chart takes about half the time that parsing it as XML and importing the
      // tree took. The XML declaration is left out (HTML would keep it as a comment).
      const at = text.indexOf('<svg');
      if (at < 0) throw new Error('not an SVG');
      const holder = document.createElement('div');
      holder.innerHTML = text.slice(at);
      const shown = holder.firstElementChild;
      if (!shown || shown.namespaceURI !== 'http://www.w3.org/2000/svg' || shown.localName !== 'svg') throw new Error('not an SVG');
      body.replaceChildren(shown);
      if (kind === 'parallel') {
        attachBrushing(shown);
        dimParallelLines();
      }
      section.dataset.loaded = 'yes';
    } catch (error) {
      body.replaceChildren(el('p', { class: 'note' }, 'Chart not available.'));
      section.dataset.loaded = 'no';
    }
  }

  // Charts already drawn are drawn again when trials change, at most every two seconds.
  const redrawCharts = hpt.coalesce(() => {
    for (const section of document.querySelectorAll('section.chart[data-loaded="yes"]')) loadChart(section);
  }, 2000);

  // ---- Comparison: this experiment's best-so-far curve against others on the same objective.
  async function setUpComparison() {
    const section = document.getElementById('chart-compare');
    const picks = document.getElementById('compare-with');
    try {
      const all = await hpt.getJSON('/api/experiments');
      const me = all.find((e) => String(e.id) === String(experiment ? experiment.id : id) || e.name === id);
      if (!me) return;
      const others = all.filter((e) => e.id !== me.id && e.objective.metric === me.objective.metric &&
                                       e.objective.goal === me.objective.goal).sort((a, b) => b.id - a.id);
      if (!others.length) {
        picks.replaceChildren(el('span', { class: 'note' }, 'No other experiment optimizes ' + me.objective.metric + ' (' + me.objective.goal + ').'));
      } else {
        picks.replaceChildren(...others.slice(0, 12).map((e, i) => el('label', { class: 'pick' },
          el('input', { type: 'checkbox', value: e.id, checked: i < 4 ? 'checked' : null, onchange: () => loadChart(section) }),
          ' ' + e.name + ' (' + e.id + ', ' + e.strategy + ')')));
      }
      section.dataset.base = me.id;
    } catch (error) {
      picks.replaceChildren(el('span', { class: 'note' }, 'Experiments not available.'));
    }
  }
  const compareUrl = (section) => {
    const ids = [section.dataset.base || id, ...[...document.querySelectorAll('#compare-with input:checked')].map((c) => c.value)];
    return '/api/compare.svg?experiments=' + ids.map(encodeURIComponent).join(',');
  };
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      loadChart(entry.target);
    }
  }, { rootMargin: '200px' });
  const reload = hpt.coalesce(() => { load(); redrawCharts(); }, 150);
  hpt.events({
    trial: (d) => { if (String(d.experiment_id) === String(experiment ? experiment.id : id)) reload(); },
    experiment: (d) => { if (String(d.experiment_id) === String(experiment ? experiment.id : id)) reload(); },
  }, load);
  load().then(setUpComparison).then(() => {
    for (const section of document.querySelectorAll('section.chart')) observer.observe(section);
  });
})();
