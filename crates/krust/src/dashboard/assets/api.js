// Talking to the API through krust's proxy (same origin: the proxy adds the credentials):
// requests, discovery, and live lists (a list, then a watch from its resourceVersion, on
// the page's one stream of watches).

/** An API error: the HTTP status and the server's Status message. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** A request; its JSON answer, or an ApiError. */
export async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { Accept: 'application/json', ...options.headers } });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** A patch (merge, strategic or JSON) as the dashboard's field manager. */
export const patch = (path, body, type = 'application/merge-patch+json') =>
  api(`${path}?fieldManager=krust-dashboard`, { method: 'PATCH', headers: { 'Content-Type': type }, body: JSON.stringify(body) });

/** Server-side apply of YAML text as the dashboard's field manager. */
export const apply = (path, text, force) =>
  api(`${path}?fieldManager=krust-dashboard${force ? '&force=true' : ''}`,
    { method: 'PATCH', headers: { 'Content-Type': 'application/apply-patch+yaml' }, body: text });

export const remove = path => api(path, { method: 'DELETE' });

export const query = params =>
  Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** The URL path of a resource's collection (in `ns` when namespaced and given). */
export function collection(r, ns) {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return base + (r.namespaced && ns ? `/namespaces/${encodeURIComponent(ns)}` : '') + '/' + r.name;
}

/** The URL path of one object. */
export const objectPath = (r, ns, name) => collection(r, ns) + '/' + encodeURIComponent(name);

/** Every listable resource the server serves (core, then each group's preferred version). */
export async function discover() {
  const [core, groups] = await Promise.all([api('/api/v1'), api('/apis')]);
  const lists = [{ group: '', version: 'v1', list: core }];
  const answers = await Promise.all(groups.groups.map(g =>
    api('/apis/' + g.preferredVersion.groupVersion).then(list => ({ group: g.name, version: g.preferredVersion.version, list }), () => null)));
  lists.push(...answers.filter(Boolean));
  const out = [];
  for (const { group, version, list } of lists) {
    for (const r of list.resources || []) {
      if (r.name.includes('/') || !(r.verbs || []).includes('list')) continue;
      out.push({ group, version, name: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs });
    }
  }
  return out;
}

const key = o => (o.metadata.namespace || '') + '/' + o.metadata.name;
const sleep = ms => new Promise(r => setTimeout(r, ms));

/**
 * Keeps the objects of `path` (with `params`: labelSelector, fieldSelector) current: lists,
 * then watches (no polling); calls `onChange(items)` after each burst of changes.
 * Returns a function that stops it.
 */
export function live(path, params, onChange, onError) {
  const items = new Map();
  const ctrl = new AbortController();
  let pending = false;
  const changed = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; if (!ctrl.signal.aborted) onChange([...items.values()]); }, 10);
  };
  (async () => {
    while (!ctrl.signal.aborted) {
      try {
        const list = await api(path + '?' + query(params), { signal: ctrl.signal });
        items.clear();
        for (const o of list.items) items.set(key(o), o);
        changed();
        await watch(path, { ...params, resourceVersion: list.metadata.resourceVersion }, ctrl.signal, ev => {
          if (ev.type === 'ADDED' || ev.type === 'MODIFIED') items.set(key(ev.object), ev.object);
          else if (ev.type === 'DELETED') items.delete(key(ev.object));
          else if (ev.type === 'ERROR') throw new ApiError(ev.object.code || 500, ev.object);
          else return;
          changed();
        });
      } catch (e) {
        if (ctrl.signal.aborted) return;
        if (onError && !(e instanceof ApiError && e.status === 410)) onError(e);
        if (e instanceof ApiError && e.status === 404) return;
        await sleep(1000);
      }
    }
  })();
  return () => ctrl.abort();
}

/**
 * The page's one stream of watches (krust's `/krust/watches`): every watch of the page
 * shares one connection, of the six a browser opens to one host. Opened on first use, and
 * again after it breaks (each watch on it ends, and its list relists).
 */
let stream = null;
let lastWatch = 0;

function openStream() {
  stream ??= new Promise((resolve, reject) => {
    const handlers = new Map();
    let opened = false;
    (async () => {
      try {
        const res = await fetch('/krust/watches');
        if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
        await lines(res, line => {
          const msg = JSON.parse(line);
          if (msg.stream) { opened = true; resolve({ id: msg.stream, handlers }); }
          else handlers.get(msg.watch)?.(msg);
        });
      } catch (e) {
        if (!opened) reject(e);
      }
      stream = null;
      for (const h of [...handlers.values()]) h({ end: { code: 503, status: { message: 'the watch stream ended' } } });
    })();
  });
  return stream;
}

/** Watches `path` (one JSON event to `onEvent` each) until it ends, on the page's stream. */
async function watch(path, params, signal, onEvent) {
  const s = await openStream();
  if (signal.aborted) return;
  const n = ++lastWatch;
  const url = path + '?' + query({ ...params, watch: 1, allowWatchBookmarks: true });
  await new Promise((resolve, reject) => {
    const stop = () => fetch(`/krust/watches/${s.id}/${n}`, { method: 'DELETE' }).catch(() => {});
    const finish = settle => { s.handlers.delete(n); signal.removeEventListener('abort', aborted); settle(); };
    const aborted = () => { stop(); finish(() => reject(new DOMException('stopped', 'AbortError'))); };
    signal.addEventListener('abort', aborted);
    s.handlers.set(n, msg => {
      if (msg.event) {
        try { onEvent(msg.event); } catch (e) { stop(); finish(() => reject(e)); }
      } else if (msg.end) {
        const { code, status } = msg.end;
        finish(() => code === 200 ? resolve() : reject(new ApiError(code, status)));
      }
    });
    api(`/krust/watches/${s.id}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ watch: n, path: url }),
    }).catch(e => finish(() => reject(e)));
  });
}

/** Calls `onLine` for each line of a streamed response, as it arrives. */
export async function lines(res, onLine) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  }
  if (rest.trim()) onLine(rest);
}
