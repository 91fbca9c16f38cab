// The cluster at a glance: nodes (with usage from metrics.k8s.io when it is served),
// namespaces, Deployments and Pods with their health, and the recent Warning Events; the
// four lists live (watched, on the page's one stream of watches), requested in parallel so
// the first paint comes at once.
import { api, live, query } from './api.js';
import { h, age, ctx } from './app.js';

const cpu = q => { // cores
  if (!q) return 0;
  if (q.endsWith('n')) return parseFloat(q) / 1e9;
  if (q.endsWith('u')) return parseFloat(q) / 1e6;
  if (q.endsWith('m')) return parseFloat(q) / 1e3;
  return parseFloat(q);
};
const bytes = q => {
  const m = /^([\d.]+)([KMGTE]i?)?$/.exec(q || '');
  if (!m) return 0;
  const units = { K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return parseFloat(m[1]) * (units[m[2]] || 1);
};
const gib = b => (b / 1024 ** 3).toFixed(1) + ' GiB';
const meter = f => h('div', { class: 'meter', title: Math.round(f * 100) + '%' }, h('div', { style: `width:${Math.min(100, f * 100)}%` }));

const ready = n => (n.status?.conditions || []).find(c => c.type === 'Ready')?.status === 'True';
const deploymentHealthy = d => (d.status?.availableReplicas || 0) >= (d.spec?.replicas ?? 1);

export function overview(main) {
  const data = { nodes: null, pods: null, deployments: null, events: null, metrics: {}, namespaces: null };
  const root = h('div', { id: 'overview' });
  main.append(h('h2', {}, 'Overview'), root);
  const ns = ctx.ns ? `/namespaces/${ctx.ns}` : '';
  const sel = { labelSelector: ctx.label };

  function render() {
    const pods = (data.pods || []).filter(p => p.metadata.name.includes(ctx.name));
    const deps = (data.deployments || []).filter(d => d.metadata.name.includes(ctx.name));
    const phases = {};
    for (const p of pods) phases[p.status?.phase || 'Pending'] = (phases[p.status?.phase || 'Pending'] || 0) + 1;
    const healthy = deps.filter(deploymentHealthy).length;
    const card = (title, value, detail, cls) => h('div', { class: 'card' }, h('span', { class: 'muted' }, title), h('b', { class: cls }, value), detail);
    const cards = h('div', { class: 'cards' },
      card('Nodes', data.nodes ? data.nodes.length : '…', data.nodes && `${data.nodes.filter(ready).length} Ready`),
      card('Namespaces', data.namespaces ? data.namespaces.length : '…'),
      card('Deployments', data.deployments ? deps.length : '…', data.deployments && `${healthy} available`, healthy < deps.length ? 'warn' : ''),
      card('Pods', data.pods ? pods.length : '…', Object.entries(phases).map(([k, v]) => `${v} ${k}`).join(', '),
        (phases.Failed || phases.Pending) ? 'warn' : ''));
    const nodes = h('table', { id: 'nodes' }, h('tr', {}, h('th', {}, 'Node'), h('th', {}, 'Status'), h('th', {}, 'CPU'), h('th', {}, 'Memory'), h('th', {}, 'Age')),
      (data.nodes || []).map(n => {
        const m = data.metrics[n.metadata.name];
        const capCpu = cpu(n.status?.allocatable?.cpu || n.status?.capacity?.cpu), capMem = bytes(n.status?.allocatable?.memory || n.status?.capacity?.memory);
        const usage = (used, cap, fmt) => m ? h('div', {}, `${fmt(used)} / ${fmt(cap)}`, meter(cap ? used / cap : 0)) : h('span', { class: 'muted' }, fmt(cap));
        return h('tr', { class: 'link', onclick: () => { location.hash = `#/r/core/v1/nodes/-/${n.metadata.name}`; } },
          h('td', {}, n.metadata.name), h('td', { class: ready(n) ? 'ok' : 'bad' }, ready(n) ? 'Ready' : 'NotReady'),
          h('td', {}, usage(cpu(m?.usage?.cpu), capCpu, v => v.toFixed(2))),
          h('td', {}, usage(bytes(m?.usage?.memory), capMem, gib)), h('td', {}, age(n.metadata.creationTimestamp)));
      }));
    const depTable = h('table', { id: 'deployments' }, h('tr', {}, h('th', {}, 'Deployment'), h('th', {}, 'Namespace'), h('th', {}, 'Ready'), h('th', {}, 'Age')),
      deps.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map(d => h('tr', {
        class: 'link', 'data-name': d.metadata.name,
        onclick: () => { location.hash = `#/r/apps/v1/deployments/${d.metadata.namespace}/${d.metadata.name}`; },
      }, h('td', {}, d.metadata.name), h('td', {}, d.metadata.namespace),
      h('td', { class: deploymentHealthy(d) ? 'ok' : 'warn' }, `${d.status?.readyReplicas || 0}/${d.spec?.replicas ?? 1}`), h('td', {}, age(d.metadata.creationTimestamp)))));
    const last = e => e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp;
    const warnings = (data.events || []).filter(e => e.type === 'Warning').sort((a, b) => Date.parse(last(b)) - Date.parse(last(a))).slice(0, 10);
    const events = warnings.length
      ? h('table', { id: 'warnings' }, h('tr', {}, h('th', {}, 'Object'), h('th', {}, 'Reason'), h('th', {}, 'Message'), h('th', {}, 'Last seen')),
        warnings.map(e => h('tr', {}, h('td', {}, `${e.involvedObject?.kind}/${e.involvedObject?.name}`), h('td', { class: 'warn' }, e.reason), h('td', {}, e.message), h('td', {}, age(last(e))))))
      : h('p', { class: 'muted' }, data.events ? 'No warnings.' : '…');
    root.replaceChildren(cards, h('h3', {}, 'Nodes'), nodes, h('h3', {}, 'Deployments'), depTable, h('h3', {}, 'Recent warnings'), events);
  }

  const set = k => items => { data[k] = items; render(); };
  const stops = [
    live('/api/v1/nodes', {}, set('nodes')),
    live(`/apis/apps/v1${ns}/deployments`, sel, set('deployments')),
    live(`/api/v1${ns}/pods`, sel, set('pods')),
    live(`/api/v1${ns}/events`, {}, set('events')),
  ];
  // Usage is a snapshot (metrics cannot be watched): asked once, when the page shows.
  api('/apis/metrics.k8s.io/v1beta1/nodes?' + query({})).then(list => {
    for (const m of list.items) data.metrics[m.metadata.name] = m;
    render();
  }, () => {});
  render();
  const filter = () => { data.namespaces = ctx.namespaces; render(); };
  filter();
  document.addEventListener('krust-filter', filter);
  document.addEventListener('krust-namespaces', filter);
  return () => {
    stops.forEach(s => s());
    document.removeEventListener('krust-filter', filter);
    document.removeEventListener('krust-namespaces', filter);
  };
}
