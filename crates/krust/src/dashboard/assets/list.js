// Every object of one kind, live (watched), filtered by namespace, label selector and name,
// with the columns kubectl's `get` prints for the common kinds, and a custom resource's
// printer columns (`additionalPrinterColumns` of its definition).
import { live, collection } from './api.js';
import { h, age, ctx, route } from './app.js';

/** A pod's status as `kubectl get pods` prints it (a waiting reason over the phase). */
export function podStatus(p) {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const c of p.status?.containerStatuses || []) {
    if (c.state?.waiting?.reason) return c.state.waiting.reason;
    if (c.state?.terminated?.reason && p.status.phase !== 'Succeeded') return c.state.terminated.reason;
  }
  return p.status?.phase || 'Pending';
}

const statusClass = s => (['Running', 'Succeeded', 'Completed', 'Ready', 'Active', 'Bound'].includes(s) ? 'ok'
  : ['Pending', 'ContainerCreating', 'Terminating'].includes(s) ? 'warn' : 'bad');

const ready = p => {
  const cs = p.status?.containerStatuses || [];
  return `${cs.filter(c => c.ready).length}/${(p.spec?.containers || []).length}`;
};

const COLUMNS = {
  pods: [['Status', p => podStatus(p), true], ['Ready', ready],
    ['Restarts', p => (p.status?.containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0)], ['Node', p => p.spec?.nodeName || '']],
  deployments: [['Ready', d => `${d.status?.readyReplicas || 0}/${d.spec?.replicas ?? 1}`], ['Up-to-date', d => d.status?.updatedReplicas || 0],
    ['Available', d => d.status?.availableReplicas || 0]],
  replicasets: [['Desired', r => r.spec?.replicas ?? 1], ['Ready', r => r.status?.readyReplicas || 0]],
  statefulsets: [['Ready', s => `${s.status?.readyReplicas || 0}/${s.spec?.replicas ?? 1}`]],
  daemonsets: [['Desired', d => d.status?.desiredNumberScheduled || 0], ['Ready', d => d.status?.numberReady || 0]],
  jobs: [['Completions', j => `${j.status?.succeeded || 0}/${j.spec?.completions ?? 1}`]],
  services: [['Type', s => s.spec?.type], ['Cluster IP', s => s.spec?.clusterIP],
    ['Ports', s => (s.spec?.ports || []).map(p => p.port + (p.nodePort ? ':' + p.nodePort : '') + '/' + p.protocol).join(', ')]],
  nodes: [['Status', n => ((n.status?.conditions || []).find(c => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady'), true],
    ['Version', n => n.status?.nodeInfo?.kubeletVersion || '']],
  namespaces: [['Status', n => n.status?.phase || '', true]],
  configmaps: [['Data', c => Object.keys(c.data || {}).length + Object.keys(c.binaryData || {}).length]],
  secrets: [['Type', s => s.type], ['Data', s => Object.keys(s.data || {}).length]],
  events: [['Type', e => e.type], ['Reason', e => e.reason], ['Object', e => `${e.involvedObject?.kind}/${e.involvedObject?.name}`],
    ['Message', e => e.message]],
};

/** A printer column's value: its JSONPath's dotted fields (`.spec.replicas`); '' for what else. */
function at(o, path) {
  let v = o;
  for (const f of path.replace(/^\./, '').split('.')) {
    if (v === null || typeof v !== 'object' || /[[\]]/.test(f)) return '';
    v = v[f];
  }
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A custom resource's default printer columns (Age is always shown). */
function printerColumns(r) {
  const crd = ctx.crds.find(c => c.spec.group === r.group && c.spec.names.plural === r.name);
  const version = crd?.spec.versions.find(v => v.name === r.version);
  return (version?.additionalPrinterColumns || [])
    .filter(c => !c.priority && c.jsonPath !== '.metadata.creationTimestamp')
    .map(c => [c.name, o => at(o, c.jsonPath)]);
}

export function list(main, r) {
  const count = h('span', { class: 'muted' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const error = h('div');
  main.append(h('h2', {}, r.kind, ' ', count), error, body);
  let items = [];
  function render() {
    const cols = COLUMNS[r.name] || (r.group ? printerColumns(r) : []);
    const shown = items.filter(o => o.metadata.name.includes(ctx.name))
      .sort((a, b) => (a.metadata.namespace || '').localeCompare(b.metadata.namespace || '') || a.metadata.name.localeCompare(b.metadata.name));
    count.textContent = `(${shown.length})`;
    const head = h('tr', {}, h('th', {}, 'Name'), r.namespaced && h('th', {}, 'Namespace'), cols.map(c => h('th', {}, c[0])), h('th', {}, 'Age'));
    const rows = shown.map(o => h('tr', { class: 'link', 'data-name': o.metadata.name, onclick: () => { location.hash = route(r, o); } },
      h('td', {}, o.metadata.name), r.namespaced && h('td', {}, o.metadata.namespace),
      cols.map(([, f, colored]) => { const v = f(o); return h('td', { class: colored ? statusClass(v) : '' }, v); }),
      h('td', {}, age(o.metadata.creationTimestamp))));
    body.replaceChildren(shown.length ? h('table', { id: 'list' }, head, rows) : h('p', { class: 'muted' }, `No ${r.kind} here.`));
  }
  const stop = live(collection(r, ctx.ns), { labelSelector: ctx.label }, got => { items = got; error.replaceChildren(); render(); },
    e => error.replaceChildren(h('p', { class: 'error' }, e.message)));
  document.addEventListener('krust-filter', render);
  document.addEventListener('krust-crds', render);
  return () => { stop(); document.removeEventListener('krust-filter', render); document.removeEventListener('krust-crds', render); };
}
