// The dashboard's shell: the kinds in the sidebar (from discovery), the namespace, label and
// name filters, and a hash router to one view at a time (each view returns its cleanup).
import { api, discover, live } from './api.js';
import { overview } from './overview.js';
import { list } from './list.js';
import { detail } from './detail.js';
import { logs } from './logs.js';
import { exec } from './exec.js';

/** Makes an element: h('td', {class: 'ok', onclick}, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && k !== 'list') el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** How long ago `time` was, as kubectl prints ages (5s, 3m, 2h, 4d). */
export function age(time) {
  if (!time) return '';
  const s = Math.max(0, (Date.now() - Date.parse(time)) / 1000);
  if (s < 120) return Math.floor(s) + 's';
  if (s < 7200) return Math.floor(s / 60) + 'm';
  if (s < 172800) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

/** The route to an object's details. */
export const route = (r, o) =>
  `#/r/${r.group || 'core'}/${r.version}/${r.name}/${o.metadata.namespace || '-'}/${encodeURIComponent(o.metadata.name)}`;

/** What every view shares: the served resources, the custom resource definitions and the filters. */
export const ctx = { resources: [], crds: [], namespaces: null, ns: '', label: '', name: '' };

/** The resource named `name` in `group` (core: ''). */
export const resource = (group, name) => ctx.resources.find(r => r.group === group && r.name === name);

const SECTIONS = [
  ['Workloads', ['pods', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs']],
  ['Network', ['services', 'endpoints', 'endpointslices', 'ingresses', 'networkpolicies']],
  ['Config', ['configmaps', 'secrets', 'serviceaccounts', 'resourcequotas', 'limitranges']],
  ['Cluster', ['nodes', 'namespaces', 'events', 'persistentvolumes', 'persistentvolumeclaims', 'storageclasses']],
];

function sidebar() {
  const nav = document.getElementById('kinds');
  nav.replaceChildren(h('a', { href: '#/' }, 'Overview'));
  const placed = new Set();
  const twice = new Set(ctx.resources.filter((r, i) => ctx.resources.findIndex(o => o.kind === r.kind) !== i).map(r => r.kind));
  const link = r => {
    placed.add(r);
    const label = twice.has(r.kind) && r.group ? `${r.kind} (${r.group})` : r.kind;
    return h('a', { href: `#/r/${r.group || 'core'}/${r.version}/${r.name}`, 'data-kind': r.kind, title: label }, label);
  };
  for (const [title, names] of SECTIONS) {
    const rs = names.map(n => ctx.resources.find(r => r.name === n && !placed.has(r))).filter(Boolean);
    if (rs.length) nav.append(h('h4', {}, title), ...rs.map(link));
  }
  const rest = ctx.resources.filter(r => !placed.has(r)).sort((a, b) => a.kind.localeCompare(b.kind));
  if (rest.length) nav.append(h('h4', {}, 'Other and custom'), ...rest.map(link));
}

let cleanup = () => {};
let discovered = null; // the discovery's promise, resolved once ctx.resources is known
let missing = false; // whether the view shown names a resource not served (yet)

function show() {
  cleanup();
  const main = document.getElementById('main');
  main.replaceChildren();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  missing = false;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('here', a.getAttribute('href') === location.hash.split('/').slice(0, 5).join('/'));
  try {
    if (parts[0] === 'r' && !ctx.resources.length) {
      const hash = location.hash;
      main.append(h('p', { class: 'muted' }, 'Loading…'));
      cleanup = () => {};
      discovered.then(() => { if (location.hash === hash) show(); });
    } else if (parts[0] === 'r') {
      const r = resource(parts[1] === 'core' ? '' : parts[1], parts[3]);
      if (!r) { main.append(h('p', { class: 'error' }, `The server does not serve ${parts[3]}.`)); cleanup = () => {}; missing = true; return; }
      cleanup = parts[5] ? detail(main, r, parts[4] === '-' ? '' : parts[4], parts[5]) : list(main, r);
    } else if (parts[0] === 'logs') {
      cleanup = logs(main, parts[1], parts[2]);
    } else if (parts[0] === 'exec') {
      cleanup = exec(main, parts[1], parts[2]);
    } else {
      cleanup = overview(main);
    }
  } catch (e) {
    main.append(h('p', { class: 'error' }, String(e)));
    cleanup = () => {};
  }
}

/** The filters: the namespace picker (kept current by a watch of the namespaces), label and name. */
function filters() {
  const ns = document.getElementById('ns');
  live('/api/v1/namespaces', {}, items => {
    const names = items.map(n => n.metadata.name).sort();
    if (names.join() === (ctx.namespaces || []).join()) return;
    ctx.namespaces = names;
    ns.replaceChildren(h('option', { value: '' }, 'all'), ...names.map(n => h('option', { value: n }, n)));
    ns.value = names.includes(ctx.ns) ? ctx.ns : '';
    document.dispatchEvent(new Event('krust-namespaces'));
  });
  ns.addEventListener('change', () => { ctx.ns = ns.value; show(); });
  const label = document.getElementById('label');
  label.addEventListener('change', () => { ctx.label = label.value.trim(); show(); });
  const name = document.getElementById('name');
  name.addEventListener('input', () => { ctx.name = name.value.trim(); document.dispatchEvent(new Event('krust-filter')); });
}

/** Custom resources come and go with their definitions: discovery is run again when they change. */
function definitions() {
  let served = null;
  live('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {}, items => {
    ctx.crds = items;
    document.dispatchEvent(new Event('krust-crds'));
    const now = items.map(c => c.metadata.name + ':' + c.metadata.resourceVersion).sort().join();
    if (served !== null && now !== served) {
      discover().then(resources => { ctx.resources = resources; sidebar(); if (missing) show(); });
    }
    served = now;
  });
}

function start() {
  filters();
  // The overview needs no discovery: it paints at once, the sidebar follows.
  discovered = discover().then(resources => { ctx.resources = resources; sidebar(); });
  definitions();
  addEventListener('hashchange', show);
  show();
  discovered.catch(e => document.getElementById('main').append(h('p', { class: 'error' }, 'The API did not answer: ' + e.message)));
}

start();
