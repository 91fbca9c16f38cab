// A command in a pod's container with a terminal, as `kubectl exec -it POD -- CMD` over the
// WebSocket protocol `v5.channel.k8s.io` (through krust's proxy): each message starts with
// its channel, 0 stdin, 1 stdout (the terminal's output), 3 the final Status, 4 the
// terminal's size (`{"Width":…,"Height":…}`, sent when it opens and when the page resizes).
// Keys typed in the terminal go to stdin as a terminal sends them (`term.js`).
import { api, query } from './api.js';
import { h } from './app.js';
import { Terminal, keyBytes } from './term.js';

export function exec(main, ns, name) {
  const picker = h('select', { id: 'exec-container' });
  const command = h('input', { id: 'exec-command', value: 'sh', size: 20 });
  const state = h('span', { id: 'exec-state', class: 'muted' });
  const screen = h('pre', { class: 'logs terminal', id: 'exec-terminal', tabindex: 0 });
  let socket = null;
  let term = null;
  const encoder = new TextEncoder();
  let decoder = new TextDecoder();

  /** The rows and columns that fit the terminal's box. */
  function size() {
    const probe = h('span', {}, 'M'.repeat(10));
    screen.append(probe);
    const { width } = probe.getBoundingClientRect();
    probe.remove();
    const style = getComputedStyle(screen);
    const pad = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const line = parseFloat(style.lineHeight) || 16;
    const cols = Math.max(20, Math.floor((screen.clientWidth - pad) / (width / 10 || 8)));
    return { cols, rows: Math.max(5, Math.floor((screen.clientHeight - pad) / line)) };
  }

  function draw() {
    const lines = term.lines.map(l => l.join('').trimEnd());
    const row = term.lines[term.r].join('');
    const before = lines.slice(0, term.r).join('\n') + (term.r ? '\n' : '');
    screen.replaceChildren(before + row.slice(0, term.c), h('span', { class: 'cursor' }, row[term.c] || ' '),
      row.slice(term.c + 1).trimEnd() + '\n' + lines.slice(term.r + 1).join('\n'));
  }

  const send = (channel, bytes) => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(new Uint8Array([channel, ...bytes]));
  };
  const sendSize = ({ rows, cols }) => send(4, encoder.encode(JSON.stringify({ Width: cols, Height: rows })));
  const resize = () => {
    if (!term) return;
    const { rows, cols } = size();
    if (rows === term.rows && cols === term.cols) return;
    const old = term;
    term = new Terminal(rows, cols);
    term.write(old.screen());
    draw();
    sendSize(term);
  };

  function connect() {
    socket?.close();
    const { rows, cols } = size();
    term = new Terminal(rows, cols);
    decoder = new TextDecoder();
    draw();
    const params = query({ container: picker.value, stdin: true, stdout: true, tty: true });
    const argv = command.value.trim().split(/\s+/).map(c => 'command=' + encodeURIComponent(c)).join('&');
    socket = new WebSocket(`ws://${location.host}/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}/exec?${argv}&${params}`,
      ['v5.channel.k8s.io']);
    socket.binaryType = 'arraybuffer';
    state.textContent = 'connecting…';
    socket.onopen = () => {
      state.textContent = 'connected';
      sendSize(term);
      screen.focus();
    };
    socket.onmessage = ev => {
      const bytes = new Uint8Array(ev.data);
      if (bytes[0] === 1 || bytes[0] === 2) { term.write(decoder.decode(bytes.subarray(1), { stream: true })); draw(); }
      if (bytes[0] === 3) {
        const st = JSON.parse(new TextDecoder().decode(bytes.subarray(1)) || '{}');
        state.textContent = st.status === 'Success' ? 'exited 0' : (st.message || 'failed');
      }
    };
    socket.onclose = () => { if (state.textContent.startsWith('conn')) state.textContent = 'closed'; };
    socket.onerror = () => { state.textContent = 'the connection failed'; };
  }

  screen.addEventListener('keydown', e => {
    const bytes = keyBytes(e);
    if (!bytes) return;
    e.preventDefault();
    send(0, encoder.encode(bytes));
  });
  screen.addEventListener('paste', e => {
    e.preventDefault();
    send(0, encoder.encode(e.clipboardData.getData('text/plain').replace(/\r?\n/g, '\r')));
  });
  addEventListener('resize', resize);
  main.append(h('h2', {}, h('a', { href: `#/r/core/v1/pods/${ns}/${encodeURIComponent(name)}` }, name), ' exec'),
    h('div', { class: 'bar' }, h('label', {}, 'Container ', picker), h('label', {}, 'Command ', command),
      h('button', { id: 'exec-run', onclick: connect }, 'Run'), state), screen);
  api(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`).then(pod => {
    picker.replaceChildren(...pod.spec.containers.map(c => h('option', { value: c.name }, c.name)));
    connect();
  }, e => { state.textContent = e.message; });
  return () => { removeEventListener('resize', resize); socket?.close(); };
}
