// A small YAML writer for showing and editing objects (the server parses what is sent back:
// edits are applied as `application/apply-patch+yaml`).

const plain = /^[A-Za-z_/][\w./-]*( [\w./-]+)*$/;
const special = /^(true|false|null|yes|no|on|off|y|n|~|[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?|[-+]?\.(inf|nan))$/i;

function scalar(s) {
  if (typeof s !== 'string') return s === null || s === undefined ? 'null' : String(s);
  return plain.test(s) && !special.test(s) ? s : JSON.stringify(s);
}

function block(s, indent) {
  // A multi-line string as a literal block when it reads back the same, else quoted.
  const literal = !s.includes('\r') && !/^\s/.test(s) && !/[ \t]$/m.test(s) && !s.endsWith('\n\n');
  if (!literal) {
    return ' ' + JSON.stringify(s);
  }
  const chomp = s.endsWith('\n') ? '|' : '|-';
  const body = s.replace(/\n$/, '').split('\n').map(l => (l ? indent + '  ' + l : '')).join('\n');
  return ' ' + chomp + '\n' + body;
}

/** `value` as YAML lines at `indent`. */
export function toYaml(value, indent = '') {
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return value.map(v => {
      if (v && typeof v === 'object' && !(Array.isArray(v) && !v.length) && Object.keys(v).length) {
        return indent + '- ' + toYaml(v, indent + '  ').trimStart();
      }
      return indent + '- ' + item(v, indent + '  ').trimStart();
    }).join('\n');
  }
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (!keys.length) return '{}';
    return keys.map(k => {
      const v = value[k];
      const key = indent + scalar(k) + ':';
      if (v && typeof v === 'object' && Object.keys(v).length) {
        const nested = Array.isArray(v) ? toYaml(v, indent) : toYaml(v, indent + '  ');
        return key + '\n' + nested;
      }
      return key + item(v, indent);
    }).join('\n');
  }
  return scalar(value);
}

function item(v, indent) {
  if (v && typeof v === 'object') return ' ' + (Array.isArray(v) ? '[]' : '{}');
  if (typeof v === 'string' && v.includes('\n')) return block(v, indent);
  return ' ' + scalar(v);
}
