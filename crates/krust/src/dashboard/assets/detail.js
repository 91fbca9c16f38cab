// One object: its YAML (live, watched), edit applied server-side as `krust-dashboard` (a
// conflict is shown, with a forced apply offered), delete with confirmation, scale and
// restart and rollback of Deployments, logs of Pods, a Secret's values hidden until asked,
// and the object's Events.
import { api, apply, live, patch, remove, collection, objectPath } from './api.js';
import { h, age } from './app.js';
import { toYaml } from './yaml.js';

const SCALABLE = ['deployments', 'replicasets', 'statefulsets'];

/** The object as edited: no managedFields, resourceVersion nor status (the server owns
 * them; an apply without a resourceVersion conflicts only over fields other managers own). */
function editable(o, r) {
  const copy = structuredClone(o);
  delete copy.status;
  if (copy.metadata) {
    delete copy.metadata.managedFields;
    delete copy.metadata.resourceVersion;
  }
  copy.apiVersion ||= r.group ? `${r.group}/${r.version}` : r.version;
  copy.kind ||= r.kind;
  return copy;
}

/** What the YAML view shows: as editable, a Secret's values masked. */
function shown(o, r) {
  const copy = editable(o, r);
  for (const k of ['data', 'stringData']) if (r.name === 'secrets' && copy[k]) for (const key in copy[k]) copy[k][key] = '••••••';
  return toYaml(copy);
}

export function detail(main, r, ns, name) {
  const path = objectPath(r, ns, name);
  const message = h('div');
  const actions = h('div', { class: 'bar' });
  const extra = h('div');
  const yaml = h('pre', { id: 'yaml' }, 'Loading…');
  const editor = h('div');
  const events = h('div');
  main.append(h('h2', {}, `${r.kind} ${ns ? ns + '/' : ''}${name}`), message, actions, extra, editor, events, yaml);
  let current = null;
  let editing = false;
  let typed = null; // replicas being typed, kept across live updates
  const say = (text, cls = 'note') => message.replaceChildren(h('p', { class: cls }, text));
  const failed = e => say(e.message, 'error');

  function render() {
    if (!current) { yaml.textContent = `${r.kind} ${name} is gone.`; return; }
    yaml.textContent = shown(current, r);
    if (r.name === 'secrets') secretValues();
    actionBar();
  }

  function actionBar() {
    const bar = [];
    bar.push(h('button', { id: 'edit', onclick: edit, disabled: editing }, 'Edit YAML'));
    if (SCALABLE.includes(r.name)) {
      const replicas = h('input', { id: 'replicas', type: 'number', min: 0, value: typed ?? current.spec?.replicas ?? 1, style: 'width:5em',
        oninput: e => { typed = e.target.value; } });
      bar.push(h('label', {}, 'Replicas ', replicas), h('button', {
        id: 'scale', onclick: () => patch(path + '/scale', { spec: { replicas: Number(replicas.value) } })
          .then(() => { typed = null; say(`Scaled to ${replicas.value}.`); }, failed),
      }, 'Scale'));
    }
    if (['deployments', 'statefulsets', 'daemonsets'].includes(r.name)) {
      bar.push(h('button', {
        id: 'restart', onclick: () => patch(path, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } },
          'application/strategic-merge-patch+json').then(() => say('Restarting: new pods roll out.'), failed),
      }, 'Restart'));
    }
    if (r.name === 'deployments') bar.push(h('button', { id: 'rollback', onclick: () => rollback().catch(failed) }, 'Roll back'));
    if (r.name === 'pods') {
      bar.push(h('a', { id: 'logs', href: `#/logs/${ns}/${encodeURIComponent(name)}` }, h('button', {}, 'Logs')),
        h('a', { id: 'exec', href: `#/exec/${ns}/${encodeURIComponent(name)}` }, h('button', {}, 'Exec')));
    }
    bar.push(h('button', {
      id: 'delete', class: 'danger', onclick: () => {
        if (!confirm(`Delete ${r.kind} ${name}?`)) return;
        remove(path).then(() => say(`${r.kind} ${name} deleted.`), failed);
      },
    }, 'Delete'));
    bar.push(h('span', { class: 'muted' }, `created ${age(current.metadata.creationTimestamp)} ago`));
    actions.replaceChildren(...bar);
  }

  function secretValues() {
    const data = current.data || {};
    extra.replaceChildren(h('h3', {}, 'Values'), h('table', {}, Object.keys(data).map(k => {
      const cell = h('td', {}, h('span', { class: 'muted' }, 'hidden'));
      return h('tr', {}, h('th', {}, k), cell, h('td', {}, h('button', {
        onclick: e => {
          let text;
          try { text = new TextDecoder().decode(Uint8Array.from(atob(data[k]), c => c.charCodeAt(0))); } catch { text = data[k]; }
          cell.replaceChildren(h('code', {}, text));
          e.target.remove();
        },
      }, 'Show')));
    })));
  }

  /** `kubectl rollout undo`: the template of the ReplicaSet of the previous revision. */
  async function rollback() {
    const revision = rs => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] || 0);
    const sets = (await api(`/apis/apps/v1/namespaces/${ns}/replicasets`)).items
      .filter(rs => (rs.metadata.ownerReferences || []).some(o => o.uid === current.metadata.uid));
    const now = Math.max(revision(current), ...sets.map(revision));
    const previous = sets.filter(rs => revision(rs) < now).sort((a, b) => revision(b) - revision(a))[0];
    if (!previous) {
      const seen = sets.map(rs => `${rs.metadata.name} (${revision(rs)})`).join(', ') || 'none';
      say(`There is no earlier revision to roll back to (revision ${now}; ReplicaSets: ${seen}).`, 'error');
      return;
    }
    const template = structuredClone(previous.spec.template);
    delete template.metadata?.labels?.['pod-template-hash'];
    if (!confirm(`Roll ${name} back to revision ${revision(previous)}?`)) return;
    await patch(path, [{ op: 'replace', path: '/spec/template', value: template }], 'application/json-patch+json');
    say(`Rolled back to revision ${revision(previous)}.`);
  }

  async function edit() {
    editing = true;
    actionBar();
    const fresh = await api(path).catch(failed);
    if (!fresh) { editing = false; actionBar(); return; }
    const text = h('textarea', { id: 'editor', spellcheck: false }, toYaml(editable(fresh, r)));
    const done = () => { editing = false; editor.replaceChildren(); actionBar(); };
    const send = force => apply(path, text.value, force).then(() => { say('Applied.'); done(); }, e => {
      if (e.status === 409) {
        message.replaceChildren(h('p', { class: 'error' }, 'Conflict: ' + e.message),
          h('button', { id: 'force', onclick: () => send(true) }, 'Apply anyway (take over the fields)'));
      } else failed(e);
    });
    editor.replaceChildren(text, h('div', { class: 'bar' },
      h('button', { id: 'apply', class: 'primary', onclick: () => send(false) }, 'Apply'),
      h('button', { onclick: done }, 'Cancel'),
      h('span', { class: 'muted' }, 'server-side apply as krust-dashboard')));
  }

  const stop = live(collection(r, ns), { fieldSelector: `metadata.name=${name}` }, items => {
    current = items[0] || null;
    render();
  }, failed);
  const last = e => e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp;
  const stopEvents = live(ns ? `/api/v1/namespaces/${ns}/events` : '/api/v1/events',
    { fieldSelector: `involvedObject.name=${name},involvedObject.kind=${r.kind}` }, items => {
      items.sort((a, b) => Date.parse(last(b)) - Date.parse(last(a)));
      events.replaceChildren(h('h3', {}, 'Events'), items.length ? h('table', { id: 'events' },
        h('tr', {}, h('th', {}, 'Type'), h('th', {}, 'Reason'), h('th', {}, 'Message'), h('th', {}, 'Count'), h('th', {}, 'Last seen')),
        items.map(e => h('tr', {}, h('td', { class: e.type === 'Warning' ? 'warn' : '' }, e.type), h('td', {}, e.reason),
          h('td', {}, e.message), h('td', {}, e.count || 1), h('td', {}, age(last(e)))))) : h('p', { class: 'muted' }, 'No events.'));
    });
  return () => { stop(); stopEvents(); };
}
