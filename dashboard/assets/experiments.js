// The experiments list (/): GET /api/experiments, refetched when an event says something changed.
'use strict';
(() => {
  const { el } = hpt;
  const body = document.querySelector('#experiments tbody');

  function row(e) {
    const p = hpt.progress(e.trials, e.max_trials);
    const href = '/experiments/' + e.id;
    const best = e.best ? hpt.num(e.best.objective) : '—';
    const ended = e.ended_at;
    const lasted = (ended !== null ? ended : Date.now() / 1000) - e.created_at;
    return el('tr', { class: 'link', dataset: { id: e.id }, onclick: (ev) => { if (!ev.target.closest('a')) location.href = href; } },
      el('td', { class: 'num' }, el('a', { href }, e.id)),
      el('td', {}, el('a', { href }, e.name)),
      el('td', {}, e.strategy),
      el('td', {}, hpt.badge(e.status)),
      el('td', {}, p.bar, p.text, e.trials.running ? el('span', { class: 'note' }, ' (' + e.trials.running + ' running)') : null),
      el('td', { class: 'num', title: e.objective.metric + ', ' + e.objective.goal }, best,
         el('span', { class: 'note' }, ' ' + e.objective.metric)),
      el('td', {}, hpt.time(e.created_at)),
      el('td', {}, hpt.time(ended)),
      el('td', { class: 'num' }, hpt.duration(lasted)));
  }

  async function load() {
    try {
      const experiments = await hpt.getJSON('/api/experiments');
      body.replaceChildren(...experiments.map(row));
      document.getElementById('empty').hidden = experiments.length > 0;
      hpt.showError(null);
    } catch (error) {
      hpt.showError(error);
    }
  }

  const reload = hpt.coalesce(load, 150);
  hpt.events({ trial: reload, experiment: reload }, load);
  load();
})();
