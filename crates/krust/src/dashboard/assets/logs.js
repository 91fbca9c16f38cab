// A pod's logs, streamed as they are written (follow), or its previous container's, with a
// container picker: `kubectl logs [-f] [-p] [-c]`.
import { api, lines, query } from './api.js';
import { h } from './app.js';

export function logs(main, ns, name) {
  const picker = h('select', { id: 'container' });
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const previous = h('input', { type: 'checkbox', id: 'previous' });
  const out = h('pre', { class: 'logs', id: 'log' });
  const error = h('div');
  main.append(h('h2', {}, h('a', { href: `#/r/core/v1/pods/${ns}/${encodeURIComponent(name)}` }, name), ' logs'),
    h('div', { class: 'bar' }, h('label', {}, 'Container ', picker), h('label', {}, follow, ' follow'), h('label', {}, previous, ' previous')),
    error, out);
  let ctrl = new AbortController();

  async function stream() {
    ctrl.abort();
    ctrl = new AbortController();
    out.textContent = '';
    error.replaceChildren();
    const params = { container: picker.value, follow: follow.checked && !previous.checked, previous: previous.checked, tailLines: 1000 };
    try {
      const res = await fetch(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}/log?` + query(params), { signal: ctrl.signal });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || `HTTP ${res.status}`);
      await lines(res, line => {
        const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        out.append(line + '\n');
        if (atEnd) out.scrollTop = out.scrollHeight;
      });
    } catch (e) {
      if (!ctrl.signal.aborted) error.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }

  api(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`).then(pod => {
    const names = [...(pod.spec.initContainers || []), ...pod.spec.containers].map(c => c.name);
    picker.replaceChildren(...names.map(n => h('option', { value: n }, n)));
    picker.value = pod.spec.containers[0].name;
    stream();
  }, e => error.replaceChildren(h('p', { class: 'error' }, e.message)));
  for (const el of [picker, follow, previous]) el.addEventListener('change', stream);
  return () => ctrl.abort();
}
