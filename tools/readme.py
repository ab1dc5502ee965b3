#!/usr/bin/env python3
"""Write README.md from nbs/index.ipynb, without Quarto (which `nbdev_readme` needs).

Markdown cells are copied, visible code cells become fenced Python with their text outputs, hidden
cells (`#| hide`) are left out, and links to chapters (`01_x.ipynb`) are pointed into nbs/.
`python tools/readme.py` rewrites README.md; `--check` exits 1 when README.md would change."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n'


def directives(src): return {l[2:].strip().split()[0] for l in src.splitlines() if l.startswith('#|') and l[2:].strip()}


def render_cell(cell):
    src = ''.join(cell['source'])
    if cell['cell_type'] == 'markdown': return src.strip()
    if cell['cell_type'] != 'code' or directives(src) & {'hide', 'export', 'exporti'}: return ''
    code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
    out = ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('output_type') == 'stream')
    return f'```python\n{code}\n```' + (f'\n\n```\n{out.rstrip()}\n```' if out.strip() else '') if code else ''


def render(nb_path=ROOT / 'nbs' / 'index.ipynb'):
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    md = '\n\n'.join(p for p in map(render_cell, nb['cells']) if p)
    md = re.sub(r'\]\((?!https?:|/|#|nbs/)([^)\s]+\.ipynb)\)', r'](nbs/\1)', md)
    return HEADER + md + '\n'


if __name__ == '__main__':
    readme, text = ROOT / 'README.md', render()
    if '--check' in sys.argv[1:]:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is out of sync with nbs/index.ipynb: run `python tools/readme.py`')
        print('README.md is in sync with nbs/index.ipynb')
    else:
        readme.write_text(text, encoding='utf-8'); print('wrote README.md')
