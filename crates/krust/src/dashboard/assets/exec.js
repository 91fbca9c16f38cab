// A command in a pod's container, as `kubectl exec -i POD -- CMD` over the WebSocket
// protocol `v5.channel.k8s.io` (through krust's proxy): each message starts with its
// channel, 0 stdin, 1 stdout, 2 stderr, 3 the final Status. Line by line (no TTY).
import { api, query } from './api.js';
import { h } from './app.js';

export function exec(main, ns, name) {
  const picker = h('select', { id: 'exec-container' });
  const command = h('input', { id: 'exec-command', value: 'sh', size: 20 });
  const state = h('span', { id: 'exec-state', class: 'muted' });
  const out = h('pre', { class: 'logs', id: 'exec-output' });
  const line = h('input', { id: 'exec-input', placeholder: 'type a command, Enter sends it', style: 'width:100%', disabled: true });
  let socket = null;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const write = text => { out.append(text); out.scrollTop = out.scrollHeight; };

  function connect() {
    socket?.close();
    out.textContent = '';
    const params = query({ container: picker.value, stdin: true, stdout: true, stderr: true });
    const argv = command.value.trim().split(/\s+/).map(c => 'command=' + encodeURIComponent(c)).join('&');
    socket = new WebSocket(`ws://${location.host}/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}/exec?${argv}&${params}`,
      ['v5.channel.k8s.io']);
    socket.binaryType = 'arraybuffer';
    state.textContent = 'connecting…';
    socket.onopen = () => { state.textContent = 'connected'; line.disabled = false; line.focus(); };
    socket.onmessage = ev => {
      const bytes = new Uint8Array(ev.data);
      if (bytes[0] === 1 || bytes[0] === 2) write(decoder.decode(bytes.subarray(1), { stream: true }));
      if (bytes[0] === 3) {
        const st = JSON.parse(decoder.decode(bytes.subarray(1)) || '{}');
        state.textContent = st.status === 'Success' ? 'exited 0' : (st.message || 'failed');
      }
    };
    socket.onclose = () => { line.disabled = true; if (state.textContent.startsWith('conn')) state.textContent = 'closed'; };
    socket.onerror = () => { state.textContent = 'the connection failed'; };
  }

  line.addEventListener('keydown', e => {
    if (e.key !== 'Enter' || !socket || socket.readyState !== WebSocket.OPEN) return;
    write('$ ' + line.value + '\n');
    socket.send(new Uint8Array([0, ...encoder.encode(line.value + '\n')]));
    line.value = '';
  });
  main.append(h('h2', {}, h('a', { href: `#/r/core/v1/pods/${ns}/${encodeURIComponent(name)}` }, name), ' exec'),
    h('div', { class: 'bar' }, h('label', {}, 'Container ', picker), h('label', {}, 'Command ', command),
      h('button', { id: 'exec-run', onclick: connect }, 'Run'), state), out, line);
  api(`/api/v1/namespaces/${ns}/pods/${encodeURIComponent(name)}`).then(pod => {
    picker.replaceChildren(...pod.spec.containers.map(c => h('option', { value: c.name }, c.name)));
    connect();
  }, e => { state.textContent = e.message; });
  return () => socket?.close();
}
