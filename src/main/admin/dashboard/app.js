// The dashboard's script: live charts from /dashboard/events (Server-Sent Events, one sample a
// second, the last 15 minutes first), tables and actions over the REST API. Plain browser
// JavaScript, no build step; uPlot draws the charts.
'use strict';
(function () {
  const API = '/api/v1/mqtt';
  const WINDOW = 15 * 60;
  const PALETTE = ['#1f6feb', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d'];
  const $ = (id) => document.getElementById(id);

  const fmt = (n) => {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return a >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
  };
  const bytes = (n) => (n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : Math.round(n) + ' B');
  const text = (el, s) => { el.textContent = s; };
  function cell(tr, value) { const td = document.createElement('td'); td.textContent = String(value); td.title = String(value); tr.appendChild(td); return td; }
  function button(label, cls, onClick) { const b = document.createElement('button'); b.textContent = label; b.className = cls; b.addEventListener('click', onClick); return b; }

  async function api(method, path, body) {
    const res = await fetch(API + path, {
      method, credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const partial = res.headers.get('x-shoal-missing-shards');
    text($('partial'), partial ? 'partial answer: shards ' + partial : '');
    const t = await res.text();
    const value = t === '' ? null : JSON.parse(t);
    if (!res.ok) throw new Error((value && value.message) || res.statusText);
    return value;
  }

  // ---- charts
  const charts = [];
  function chart(id, series, yFmt) {
    const el = $(id);
    const opts = {
      width: Math.max(300, el.clientWidth), height: 170,
      series: [{}].concat(series.map((s, i) => ({ label: s, stroke: PALETTE[i % PALETTE.length], width: 1.5, points: { show: false } }))),
      axes: [{}, { size: 60, values: (u, vals) => vals.map(yFmt || fmt) }],
      scales: { x: { time: true } },
      legend: { live: false },
    };
    const data = [[]].concat(series.map(() => []));
    const u = new uPlot(opts, data, el);
    const c = { u, data, el, series, pick: null };
    charts.push(c);
    return c;
  }
  const perShard = (n, prefix) => Array.from({ length: n }, (_, i) => prefix + i);
  let built = false;
  let cConn, cMsgs, cBytes, cDrops, cElu, cDelay, cStore, cShardIn;
  function build(n) {
    cConn = chart('chart-connections', ['connections']);
    cMsgs = chart('chart-msgs', ['in', 'out']);
    cBytes = chart('chart-bytes', ['in', 'out'], bytes);
    cDrops = chart('chart-drops', ['drops']);
    cElu = chart('chart-elu', perShard(n, 'shard '), (v) => (v * 100).toFixed(0) + '%');
    cDelay = chart('chart-delay', perShard(n, 'shard '));
    cStore = chart('chart-store', ['store'], bytes);
    cShardIn = chart('chart-shard-in', perShard(n, 'shard '));
    cConn.pick = (s) => [s.connections];
    cMsgs.pick = (s) => [s.msgs_in_per_s, s.msgs_out_per_s];
    cBytes.pick = (s) => [s.bytes_in_per_s, s.bytes_out_per_s];
    cDrops.pick = (s) => [s.drops_per_s];
    cElu.pick = (s) => s.shards.map((x) => x.elu);
    cDelay.pick = (s) => s.shards.map((x) => x.delay_p99_ms);
    cStore.pick = (s) => [s.store_bytes];
    cShardIn.pick = (s) => s.shards.map((x) => x.msgs_in_per_s);
    built = true;
  }
  function push(s, redraw) {
    if (!built) build(s.shards.length);
    for (const c of charts) {
      c.data[0].push(s.t / 1000);
      const vals = c.pick(s);
      for (let i = 0; i < c.series.length; i++) c.data[i + 1].push(vals[i] === undefined ? null : vals[i]);
      if (c.data[0].length > WINDOW) for (const a of c.data) a.shift();
      if (redraw) c.u.setData(c.data);
    }
    text($('stat-connections'), fmt(s.connections));
    text($('stat-msgs-in'), fmt(s.msgs_in_per_s));
    text($('stat-msgs-out'), fmt(s.msgs_out_per_s));
    text($('stat-bytes-in'), bytes(s.bytes_in_per_s));
    text($('stat-bytes-out'), bytes(s.bytes_out_per_s));
    text($('stat-drops'), fmt(s.dropped_total));
    text($('stat-subscriptions'), fmt(s.subscriptions));
    text($('stat-retained'), fmt(s.retained));
    text($('stat-store'), bytes(s.store_bytes));
    text($('stat-shards'), s.shards.filter((x) => x.up).length + ' / ' + s.shards.length);
  }
  window.addEventListener('resize', () => { for (const c of charts) c.u.setSize({ width: Math.max(300, c.el.clientWidth), height: 170 }); });

  function live() {
    const es = new EventSource('/dashboard/events');
    es.addEventListener('history', (e) => {
      const h = JSON.parse(e.data);
      for (const c of charts) for (const a of c.data) a.length = 0;
      h.forEach((s, i) => push(s, i === h.length - 1));
    });
    es.onmessage = (e) => { push(JSON.parse(e.data), true); text($('live'), 'live · ' + new Date().toLocaleTimeString()); $('live').className = ''; };
    es.onerror = () => { text($('live'), 'reconnecting…'); $('live').className = 'off'; };
  }

  // ---- clients table
  const PAGE = 20;
  let clientsOffset = 0;
  async function loadClients() {
    const q = encodeURIComponent($('clients-search').value.trim());
    let page;
    try { page = await api('GET', '/clients?match=' + q + '&offset=' + clientsOffset + '&limit=' + PAGE); } catch (err) { text($('clients-total'), String(err.message)); return; }
    const body = $('clients-body');
    body.replaceChildren();
    for (const c of page.items) {
      const tr = document.createElement('tr');
      tr.dataset.client = c.id;
      cell(tr, c.id); cell(tr, c.online ? 'yes' : 'offline'); cell(tr, c.shard); cell(tr, c.ip); cell(tr, c.protocol_version);
      cell(tr, c.topic_filters.length); cell(tr, c.inflight_count); cell(tr, c.queued_count);
      cell(tr, c.connected_at ? new Date(c.connected_at).toLocaleTimeString() : '');
      const td = cell(tr, '');
      if (c.online) td.appendChild(button('kick', 'kick', async () => { await api('DELETE', '/clients/' + encodeURIComponent(c.id)).catch(() => {}); setTimeout(loadClients, 300); }));
      body.appendChild(tr);
    }
    text($('clients-total'), '(' + page.total + ')');
    text($('clients-page'), page.total === 0 ? '' : (clientsOffset + 1) + '–' + Math.min(page.total, clientsOffset + PAGE));
  }
  $('clients-search').addEventListener('input', () => { clientsOffset = 0; loadClients(); });
  $('clients-prev').addEventListener('click', () => { clientsOffset = Math.max(0, clientsOffset - PAGE); loadClients(); });
  $('clients-next').addEventListener('click', () => { clientsOffset += PAGE; loadClients(); });

  // ---- subscriptions and retained
  async function loadSubs() {
    const q = '/subscriptions?limit=15&topic=' + encodeURIComponent($('subs-search').value.trim()) + '&clientid=' + encodeURIComponent($('subs-client').value.trim());
    let page;
    try { page = await api('GET', q); } catch { return; }
    const body = $('subs-body');
    body.replaceChildren();
    for (const s of page.items) {
      const tr = document.createElement('tr');
      cell(tr, s.client_id); cell(tr, s.topic); cell(tr, s.qos);
      cell(tr, '').appendChild(button('remove', 'del', async () => {
        await api('DELETE', '/clients/' + encodeURIComponent(s.client_id) + '/subscriptions/' + encodeURIComponent(s.topic)).catch(() => {});
        loadSubs();
      }));
      body.appendChild(tr);
    }
    text($('subs-total'), '(' + page.total + ')');
  }
  async function loadRetained() {
    let page;
    try { page = await api('GET', '/retained?limit=15&topic=' + encodeURIComponent($('retained-search').value.trim())); } catch { return; }
    const body = $('retained-body');
    body.replaceChildren();
    for (const r of page.items) {
      const tr = document.createElement('tr');
      cell(tr, r.topic); cell(tr, r.qos); cell(tr, r.size); cell(tr, r.payload.slice(0, 80));
      cell(tr, '').appendChild(button('clear', 'del', async () => { await api('DELETE', '/retained/' + encodeURIComponent(r.topic)).catch(() => {}); loadRetained(); }));
      body.appendChild(tr);
    }
    text($('retained-total'), '(' + page.total + ')');
  }
  $('subs-search').addEventListener('input', loadSubs);
  $('subs-client').addEventListener('input', loadSubs);
  $('retained-search').addEventListener('input', loadRetained);

  // ---- publish
  $('publish').addEventListener('submit', async (e) => {
    e.preventDefault();
    const msg = { topic_name: $('pub-topic').value, payload: $('pub-payload').value, qos: Number($('pub-qos').value), retain: $('pub-retain').checked };
    try { await api('POST', '/message', msg); text($('pub-result'), 'published'); } catch (err) { text($('pub-result'), String(err.message)); }
    loadRetained();
  });

  api('GET', '/stat/overall').then((o) => text($('broker'), 'version ' + o.version + ' · ' + (o.threads - 1) + ' shards')).catch(() => {});
  live();
  loadClients(); loadSubs(); loadRetained();
  setInterval(() => { loadClients(); loadSubs(); loadRetained(); }, 2000);
})();
