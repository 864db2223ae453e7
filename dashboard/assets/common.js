// Shared by every page: fetching the JSON API, formatting, the live event stream.
'use strict';
const hpt = (() => {
  async function getJSON(url) {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      const error = new Error(response.status + ': ' + message);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // el('td', {class: 'num'}, 'text', childNode): text children are never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'dataset') Object.assign(node.dataset, value);
      else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function num(value) {
    if (value === null || value === undefined) return '—';
    if (typeof value !== 'number') return String(value);
    if (Number.isInteger(value)) return String(value);
    const a = Math.abs(value);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return value.toExponential(3);
    return String(Number(value.toPrecision(5)));
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    if (seconds < 1) return Math.round(seconds * 1000) + ' ms';
    if (seconds < 60) return seconds.toFixed(1) + ' s';
    const s = Math.round(seconds);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    return m + 'm ' + r + 's';
  }

  function time(t) {
    if (t === null || t === undefined) return '—';
    const date = new Date(t * 1000);
    const pad = (n) => String(n).padStart(2, '0');
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
        pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
  }

  function badge(status) { return el('span', { class: 'badge status-' + status }, status); }

  function progress(trials, max) {
    const total = Math.max(max || 0, trials.total || 0);
    const done = trials.completed + trials.failed + trials.stopped;
    const bar = el('div', {});
    bar.style.width = (total ? Math.min(100, 100 * done / total) : 0) + '%';
    return { bar: el('span', { class: 'progress' }, bar), text: done + ' / ' + total, done, total, inner: bar };
  }

  function showError(error) {
    const box = document.getElementById('error');
    if (!box) return;
    box.hidden = !error;
    box.textContent = error ? String(error.message || error) : '';
  }

  // Calls fn at most once per `ms`, after the last call.
  // fn once, ms after the first of a burst of calls: calls while one is pending join it. Unlike a
  // debounce, a steady stream of calls (a trial ending every second) still runs fn every ms.
  function coalesce(fn, ms) {
    let timer = null;
    return () => {
      if (timer !== null) return;
      timer = setTimeout(() => { timer = null; fn(); }, ms);
    };
  }

  // Subscribes to GET /api/events; handlers: {trial(data), experiment(data)}. The browser
  // reconnects by itself; after a reconnect or a "reload" event, onResync() refetches everything.
  function events(handlers, onResync) {
    const live = document.getElementById('live');
    const source = new EventSource('/api/events');
    let opened = false;
    source.addEventListener('open', () => {
      if (live) { live.textContent = 'live'; live.className = 'live on'; }
      if (opened && onResync) onResync();  // events may have been missed while away
      opened = true;
    });
    source.addEventListener('error', () => {
      if (live) { live.textContent = 'reconnecting…'; live.className = 'live off'; }
    });
    for (const kind of ['trial', 'experiment']) {
      source.addEventListener(kind, (e) => { if (handlers[kind]) handlers[kind](JSON.parse(e.data)); });
    }
    source.addEventListener('reload', () => { if (onResync) onResync(); });
    window.addEventListener('beforeunload', () => source.close());
    return source;
  }

  // The last path segment: /experiments/12 -> "12".
  function pathId() { return decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || ''); }

  return { getJSON, el, num, duration, time, badge, progress, showError, coalesce, events, pathId };
})();
