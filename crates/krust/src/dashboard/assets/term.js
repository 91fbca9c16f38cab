// A small terminal for `exec -t`: a grid of characters written by the output (text, CR, LF,
// backspace, tab, and the ANSI/VT100 sequences a shell's line editor and simple full-screen
// programs use: cursor moves and positions, erasing, inserting and deleting characters and
// lines; colours and modes are read and left out), and keys turned into the bytes a
// terminal sends. Written for the dashboard; xterm's own docs list the sequences.

const KEYS = {
  Enter: '\r', Backspace: '\x7f', Tab: '\t', Escape: '\x1b',
  ArrowUp: '\x1b[A', ArrowDown: '\x1b[B', ArrowRight: '\x1b[C', ArrowLeft: '\x1b[D',
  Home: '\x1b[H', End: '\x1b[F', Delete: '\x1b[3~', PageUp: '\x1b[5~', PageDown: '\x1b[6~',
};

/** The bytes a key press sends ('' when it sends none). */
export function keyBytes(e) {
  if (e.ctrlKey && !e.altKey && e.key.length === 1) {
    const c = e.key.toUpperCase().charCodeAt(0);
    return c >= 64 && c < 96 ? String.fromCharCode(c - 64) : '';
  }
  if (KEYS[e.key]) return KEYS[e.key];
  return e.key.length === 1 && !e.metaKey ? (e.altKey ? '\x1b' : '') + e.key : '';
}

export class Terminal {
  constructor(rows, cols) {
    this.rows = rows; this.cols = cols;
    this.lines = Array.from({ length: rows }, () => this.blank());
    this.r = 0; this.c = 0; this.saved = [0, 0];
    this.state = 'text'; this.params = '';
  }

  blank() { return Array(this.cols).fill(' '); }

  /** Takes a piece of output. */
  write(text) {
    for (const ch of text) {
      if (this.state === 'esc') this.escape(ch);
      else if (this.state === 'csi') this.csi(ch);
      else if (this.state === 'osc') { if (ch === '\x07') this.state = 'text'; else if (ch === '\x1b') this.state = 'esc'; }
      else this.put(ch);
    }
  }

  put(ch) {
    switch (ch) {
      case '\x1b': this.state = 'esc'; return;
      case '\r': this.c = 0; return;
      case '\n': case '\x0b': case '\x0c': this.down(); return;
      case '\b': this.c = Math.max(0, this.c - 1); return;
      case '\t': this.c = Math.min(this.cols - 1, (Math.floor(this.c / 8) + 1) * 8); return;
      case '\x07': return;
    }
    if (ch < ' ') return;
    if (this.c >= this.cols) { this.c = 0; this.down(); }
    this.lines[this.r][this.c++] = ch;
  }

  escape(ch) {
    this.state = 'text';
    if (ch === '[') { this.state = 'csi'; this.params = ''; }
    else if (ch === ']') this.state = 'osc';
    else if (ch === '7') this.saved = [this.r, this.c];
    else if (ch === '8') [this.r, this.c] = this.saved;
    else if (ch === 'M') { if (this.r === 0) this.insertLines(1); else this.r--; }
  }

  csi(ch) {
    if (/[0-9;?>=]/.test(ch)) { this.params += ch; return; }
    this.state = 'text';
    const ps = this.params.replace(/[?>=]/g, '').split(';').map(p => parseInt(p, 10));
    const n = (i, d = 1) => (Number.isNaN(ps[i]) || ps[i] === undefined || ps[i] === 0 ? d : ps[i]);
    const row = this.lines[this.r];
    switch (ch) {
      case 'A': this.r = Math.max(0, this.r - n(0)); break;
      case 'B': this.r = Math.min(this.rows - 1, this.r + n(0)); break;
      case 'C': this.c = Math.min(this.cols - 1, this.c + n(0)); break;
      case 'D': this.c = Math.max(0, this.c - n(0)); break;
      case 'G': this.c = Math.min(this.cols - 1, n(0) - 1); break;
      case 'd': this.r = Math.min(this.rows - 1, n(0) - 1); break;
      case 'H': case 'f': this.r = Math.min(this.rows - 1, n(0) - 1); this.c = Math.min(this.cols - 1, n(1) - 1); break;
      case 'J': this.eraseDisplay(ps[0] || 0); break;
      case 'K': {
        const [from, to] = [[this.c, this.cols], [0, this.c + 1], [0, this.cols]][ps[0] || 0] || [this.c, this.cols];
        row.fill(' ', from, to);
        break;
      }
      case 'P': row.splice(this.c, n(0)); row.push(...Array(this.cols - row.length).fill(' ')); break;
      case '@': row.splice(this.c, 0, ...Array(n(0)).fill(' ')); row.length = this.cols; break;
      case 'X': row.fill(' ', this.c, Math.min(this.cols, this.c + n(0))); break;
      case 'L': this.insertLines(n(0)); break;
      case 'M': this.lines.splice(this.r, n(0)); while (this.lines.length < this.rows) this.lines.push(this.blank()); break;
      case 's': this.saved = [this.r, this.c]; break;
      case 'u': [this.r, this.c] = this.saved; break;
      default: break; // colours (m), modes (h, l), scroll regions (r): not drawn
    }
  }

  down() {
    if (this.r < this.rows - 1) { this.r++; return; }
    this.lines.shift();
    this.lines.push(this.blank());
  }

  insertLines(k) {
    this.lines.splice(this.r, 0, ...Array.from({ length: k }, () => this.blank()));
    this.lines.length = this.rows;
  }

  eraseDisplay(mode) {
    if (mode === 2 || mode === 3) { this.lines = this.lines.map(() => this.blank()); return; }
    const [from, to] = mode === 0 ? [this.r + 1, this.rows] : [0, this.r];
    for (let i = from; i < to; i++) this.lines[i] = this.blank();
    this.lines[this.r].fill(' ', mode === 0 ? this.c : 0, mode === 0 ? this.cols : this.c + 1);
  }

  /** The screen as text, trailing blanks trimmed. */
  screen() { return this.lines.map(l => l.join('').trimEnd()).join('\n').trimEnd(); }
}
