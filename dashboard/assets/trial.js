// One trial (/trials/{id}): values, attempts, one small chart per metric, the log's tail.
'use strict';
(() => {
  const { el } = hpt;
  const id = hpt.pathId();
  const api = '/api/trials/' + encodeURIComponent(id);
  const colors = ['#2f6fde', '#c4320a', '#1a7f4b', '#8a6d00', '#7a3fc1', '#0b7a8a'];
  let chosenAttempt = null;

  function kvRows(object) {
    const entries = Object.entries(object || {});
    if (!entries.length) return [el('tr', {}, el('td', { class: 'note' }, 'none'))];
    return entries.map(([k, v]) => el('tr', {}, el('th', {}, k),
      el('td', { class: typeof v === 'number' ? 'num' : null }, typeof v === 'object' ? JSON.stringify(v) : hpt.num(v))));
  }

  // A line chart of one metric: one series per attempt, step on x.
  function metricChart(name, points) {
    const W = 320, H = 140, L = 58, R = 8, T = 8, B = 20;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', name);
    const finite = points.filter((p) => typeof p.value === 'number' && isFinite(p.value));
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    if (!finite.length) { add('text', { x: L, y: H / 2 }, 'no finite values'); return svg; }
    let x0 = Math.min(...finite.map((p) => p.step)), x1 = Math.max(...finite.map((p) => p.step));
    let y0 = Math.min(...finite.map((p) => p.value)), y1 = Math.max(...finite.map((p) => p.value));
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { const d = Math.abs(y0) * 0.05 || 1; y0 -= d; y1 += d; }
    const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
    const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    add('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B });
    add('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B });
    add('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, hpt.num(y1));
    add('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, hpt.num(y0));
    add('text', { x: L, y: H - 6 }, 'step ' + x0);
    add('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, String(x1));
    const attempts = [...new Set(finite.map((p) => p.attempt))].sort((a, b) => a - b);
    attempts.forEach((attempt, i) => {
      const series = finite.filter((p) => p.attempt === attempt).sort((a, b) => a.step - b.step);
      const color = colors[i % colors.length];
      const d = series.map((p, j) => (j ? 'L' : 'M') + sx(p.step).toFixed(1) + ' ' + sy(p.value).toFixed(1)).join(' ');
      add('path', { class: 'line', d, stroke: color }).append(Object.assign(document.createElementNS(ns, 'title'), { textContent: 'attempt ' + attempt }));
      if (series.length === 1) add('circle', { cx: sx(series[0].step), cy: sy(series[0].value), r: 2.5, fill: color });
    });
    return svg;
  }

  let runs = [];
  let logTimer = null;
  const shownAttempt = () => Number(document.getElementById('log-attempt').value);

  async function loadLog(attempt) {
    const pre = document.getElementById('log');
    const note = document.getElementById('log-note');
    note.textContent = '';
    if (attempt === null) { pre.textContent = 'No attempt has started.'; return; }
    // The log path is absolute from the start (the worker says where its work dir is); an older
    // worker's is relative to its work dir until the attempt ends. Not asking spares the console
    // a 404.
    const run = runs.find((r) => r.attempt === attempt);
    if (!run || !run.log_path.startsWith('/')) {
      pre.textContent = 'The log of attempt ' + attempt + ' can be read here once the attempt ends' +
          (run && run.log_path ? ' (on the worker: ' + run.log_path + ' under its work dir).' : '.');
      return;
    }
    // A running attempt's log grows: read its tail again every 2 s while it is the one shown.
    clearTimeout(logTimer);
    if (run.status === null || run.status === 'running') {
      logTimer = setTimeout(() => { if (shownAttempt() === attempt) loadLog(attempt); }, 2000);
    }
    try {
      const response = await fetch(api + '/log?attempt=' + attempt, { credentials: 'same-origin' });
      if (!response.ok) {
        let message = response.statusText;
        try { message = (await response.json()).error; } catch (e) { /* not JSON */ }
        pre.textContent = 'Log not available: ' + message;
        note.textContent = '';
        return;
      }
      const size = Number(response.headers.get('X-Log-Size') || 0);
      const text = await response.text();
      pre.textContent = text || '(empty)';
      note.textContent = (response.headers.get('X-Log-Path') || '') +
          (size > text.length ? ' — last ' + Math.round(text.length / 1024) + ' KiB of ' + Math.round(size / 1024) + ' KiB' : '');
      pre.scrollTop = pre.scrollHeight;
    } catch (error) {
      pre.textContent = 'Log not available: ' + error.message;
    }
  }

  function render(t) {
    document.title = 'hpt · trial ' + t.trial;
    const link = document.getElementById('exp-link');
    link.href = '/experiments/' + t.experiment;
    link.textContent = (t.experiment_name || 'experiment') + ' (' + t.experiment + ')';
    document.getElementById('trial-title').textContent = 'Trial ' + t.trial + ' · #' + t.number;
    document.getElementById('trial-status').replaceChildren(hpt.badge(t.status));
    const fact = (name, value) => el('div', {}, el('dt', {}, name), el('dd', {}, value));
    document.getElementById('trial-facts').replaceChildren(...[
      fact('objective', hpt.num(t.objective)),
      fact('attempts', t.attempt),
      fact('started', hpt.time(t.started_at)),
      fact('ended', hpt.time(t.ended_at)),
      fact('duration', hpt.duration(t.duration)),
      t.reason ? fact('reason', t.reason) : null].filter(Boolean));
    document.querySelector('#params tbody').replaceChildren(...kvRows(t.params));
    const statics = t.components.find((c) => c.kind === 'static');
    document.querySelector('#static tbody').replaceChildren(...kvRows(statics ? statics.data : {}));

    runs = t.components.filter((c) => c.kind === 'run');
    document.querySelector('#attempts tbody').replaceChildren(...(runs.length ? runs.map((r) => el('tr', {},
      el('td', { class: 'num' }, r.attempt), el('td', {}, r.status ? hpt.badge(r.status) : '—'), el('td', {}, r.worker),
      el('td', {}, r.host), el('td', { class: 'num' }, r.slot), el('td', {}, r.gpus || '—'),
      el('td', { class: 'num' }, hpt.num(r.exit_code)), el('td', { class: 'wrap' }, r.reason || ''),
      el('td', {}, hpt.time(r.started_at)), el('td', { class: 'num' }, hpt.duration(r.duration)),
      el('td', {}, el('a', { href: '#log', onclick: () => { chosenAttempt = r.attempt; document.getElementById('log-attempt').value = r.attempt; loadLog(r.attempt); } }, 'log'))))
      : [el('tr', {}, el('td', { colspan: 11, class: 'note' }, 'No attempt yet.'))]));

    // What each attempt reported about itself (run component data: params, artifacts).
    const reportedParams = [], artifacts = [];
    for (const r of runs) {
      const data = r.data || {};
      for (const [k, v] of Object.entries(data.params || {})) {
        reportedParams.push(el('tr', {}, el('td', { class: 'num' }, r.attempt), el('th', {}, k),
          el('td', { class: typeof v === 'number' ? 'num' : 'wrap' }, hpt.num(v))));
      }
      for (const a of data.artifacts || []) {
        artifacts.push(el('tr', { dataset: { artifact: a.name } }, el('td', { class: 'num' }, r.attempt),
          el('td', {}, a.direction), el('td', {}, a.name), el('td', { class: 'wrap mono' }, a.location),
          el('td', { class: 'num' }, a.size === null ? '—' : hpt.num(a.size)),
          el('td', { class: 'wrap mono' }, a.sha256 || (a.note ? el('span', { class: 'note' }, a.note) : '—'))));
      }
    }
    const none = (cols, text) => [el('tr', {}, el('td', { colspan: cols, class: 'note' }, text))];
    document.querySelector('#artifacts tbody').replaceChildren(...(artifacts.length ? artifacts : none(6, 'No artifacts reported.')));
    document.querySelector('#run-params tbody').replaceChildren(...(reportedParams.length ? reportedParams : none(3, 'No params reported.')));
    const users = t.user_components || [];
    document.querySelector('#user-components tbody').replaceChildren(...(users.length ? users.map((u) => el('tr', {},
      el('td', { class: 'num' }, u.id), el('td', {}, u.name), el('td', {}, u.kind))) : none(3, 'None.')));

    const byName = new Map();
    for (const m of t.metrics) {
      if (!byName.has(m.name)) byName.set(m.name, []);
      byName.get(m.name).push(m);
    }
    const box = document.getElementById('metrics');
    box.replaceChildren(...[...byName.entries()].map(([name, points]) => {
      const last = points.reduce((a, b) => (b.attempt > a.attempt || (b.attempt === a.attempt && b.step >= a.step) ? b : a));
      return el('div', { class: 'metric', dataset: { metric: name } },
        el('h3', {}, name, el('span', {}, 'last ' + hpt.num(last.value) + ' at step ' + last.step + ' · ' + points.length + (points.length === 1 ? ' point' : ' points'))),
        metricChart(name, points));
    }));
    if (!byName.size) box.replaceChildren(el('p', { class: 'note' }, 'No metrics reported.'));

    document.querySelector('#components tbody').replaceChildren(...t.components.map((c) => el('tr', {},
      el('td', { class: 'num' }, c.id), el('td', {}, c.kind), el('td', {}, c.name),
      el('td', { class: 'wrap mono' }, JSON.stringify(c.data)))));

    const select = document.getElementById('log-attempt');
    select.replaceChildren(...runs.map((r) => el('option', { value: r.attempt }, 'attempt ' + r.attempt)));
    const latest = runs.length ? runs[runs.length - 1].attempt : null;
    const attempt = chosenAttempt !== null ? chosenAttempt : latest;
    if (attempt !== null) select.value = attempt;
    select.onchange = () => { chosenAttempt = Number(select.value); loadLog(chosenAttempt); };
    loadLog(attempt);
  }

  async function load() {
    try {
      render(await hpt.getJSON(api));
      hpt.showError(null);
    } catch (error) {
      hpt.showError(error);
    }
  }

  const reload = hpt.coalesce(load, 150);
  hpt.events({ trial: (d) => { if (String(d.trial_id) === String(id)) reload(); } }, load);
  load();
})();
