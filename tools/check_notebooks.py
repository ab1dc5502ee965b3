#!/usr/bin/env python3
"""Checks that every notebook reads as a course and shows what its code does now.

`python tools/check_notebooks.py [NOTEBOOK ...]` (default: every notebook in nbs/) exits 1 and lists each problem:
  - history in the prose: markdown that dates itself or tells what changed (issue numbers, dates, "this round",
    "previous version", "until now", "on this machine", ...). Such notes belong in commit messages and bench/RESULTS.md.
    A phrase that is legitimate in one notebook goes in ALLOW below, with the notebook's name;
  - stale outputs: a code cell whose `source_hash` stamp (written by tools/execute.py) is missing or differs from a hash
    of its current source;
  - duplicate cell ids: two cells with one `id` (invalid nbformat, and a cell can no longer be named);
  - missing outputs: a code cell that displays something (prints, shows a figure or a doc, or ends in a bare
    expression) but has no output;
  - no run time: the chapter's opening cells lack a line starting with `**Run time:**`, or it states fewer minutes than
    the last whole run took, or that run took more than 10 minutes (the smaller of its wall and CPU seconds, both
    recorded by tools/execute.py: a busy machine inflates the wall time, and an idle one takes at most the CPU time)."""
import ast, json, re, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute import source_hash, flags_of

ROOT = Path(__file__).resolve().parent.parent
MAX_RUN_S = 600

HISTORY = [r'\bissues?\s*#?\d+', r'\(#\d+\)', r'\b20\d\d-\d\d-\d\d\b', r'\b(this|last|previous|next) (round|session)\b',
           r'\b(previous|earlier|older|old|first) (version|revision|recipe)\b', r'\buntil (now|this|recently)\b',
           r'\bon (this|that|the development|our) machines?\b', r'\bfor now\b', r'\bwe used to\b', r'\bused to (be|use|say)\b',
           r'\bnames? that moved\b', r'\b(was|were) (changed|renamed|moved|switched)\b', r'\bnow defaults?\b',
           r'\btutorial [AB]\b', r'\bCI machines?\b', r'\bno longer\b', r'\bas of (today|now)\b', r'\brecently\b',
           r'\bbefore the (switch|change|fix)\b', r'\bused before\b', r'\b(earlier|previous|old) (numbers|runs?)\b', r'\bthe (fix|switch|change) (of|in) \w+\b']
ALLOW = {  # notebook name -> phrases that match a pattern above but are not history
}
DISPLAYS = ('print', 'display', 'plt', 'show')   # and any plot_* or show_* call (show_doc, show_images, ...)


def history(nb_name, text):
    found = []
    for pat in HISTORY:
        for m in re.finditer(pat, text, flags=re.I):
            line = text[text.rfind('\n', 0, m.start()) + 1: text.find('\n', m.end()) if '\n' in text[m.end():] else None]
            if not any(a in line for a in ALLOW.get(nb_name, ())): found.append(m.group(0))
    return found


def _top_level_calls(tree):
    "Names of functions called outside any def, class or lambda."
    names = []
    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)): return
        if isinstance(node, ast.Call):
            f = node.func
            names.append(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else '')
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == 'plt': names.append('plt')
        for child in ast.iter_child_nodes(node): visit(child)
    visit(tree)
    return names


def displays(source):
    "Whether a code cell shows something when run: a print, a figure, a doc, or a final bare expression."
    code = '\n'.join(l for l in source.splitlines() if not l.lstrip().startswith(('%', '!')))
    try: tree = ast.parse(code)
    except SyntaxError: return False
    if not tree.body: return False
    last = tree.body[-1]
    if isinstance(last, ast.Expr) and not source.rstrip().endswith(';') and not isinstance(last.value, ast.Call): return True
    calls = _top_level_calls(tree)
    return any(c in DISPLAYS or c.startswith(('plot_', 'show_')) for c in calls)


def stated_seconds(line):
    "The run time a `**Run time:**` line states for the CPU, in seconds (None when it names no number)."
    cpu = line.split(';')[0]
    if re.search(r'under a minute|less than a minute', cpu, re.I): return 60
    m = re.search(r'(\d+(?:\.\d+)?)\s*(?:-|to|–)?\s*(\d+(?:\.\d+)?)?\s*(minutes?|min|seconds?|s)\b', cpu, re.I)
    if not m: return None
    n = float(m.group(2) or m.group(1))
    return n * (1 if m.group(3).lower().startswith('s') else 60)


def check(path):
    nb = json.loads(path.read_text(encoding='utf-8'))
    name, problems = path.name, []
    cells = nb['cells']
    ids = [c.get('id') for c in cells]
    for d in sorted({i for i in ids if i is not None and ids.count(i) > 1}): problems.append(f'cell id {d!r} is used {ids.count(d)} times')
    for i, c in enumerate(cells):
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown':
            for h in history(name, src): problems.append(f'cell {i}: history in the prose: "{h}"')
        if c['cell_type'] != 'code' or 'nbdev_export(' in src: continue
        if any(l.replace(' ', '') == '#|eval:false' for l in src.splitlines()): continue
        stamp = c.get('metadata', {}).get('source_hash')
        if stamp is None: problems.append(f'cell {i}: never executed by tools/execute.py (no source_hash stamp)')
        elif stamp != source_hash(src): problems.append(f'cell {i}: stale output: its source changed after it was executed')
        if stamp is not None and displays(src) and not c.get('outputs'):
            problems.append(f'cell {i}: displays something but has no output')
    opening = [''.join(c['source']) for c in cells[:4] if c['cell_type'] == 'markdown']
    lines = [l for t in opening for l in t.splitlines() if l.startswith('**Run time:**')]
    if not lines: problems.append('no `**Run time:**` line in the opening cells')
    else:
        meta = nb.get('metadata', {})
        run_s = meta.get('run_seconds')
        if run_s is not None and meta.get('cpu_seconds') is not None: run_s = min(run_s, meta['cpu_seconds'])
        stated = stated_seconds(lines[0])
        if run_s is None: problems.append('no whole run recorded (run tools/execute.py on the notebook)')
        elif run_s > MAX_RUN_S: problems.append(f'the whole run took {run_s} s: more than {MAX_RUN_S // 60} minutes on the CPU')
        elif stated is not None and stated < run_s: problems.append(f'the Run time line says {stated:.0f} s but the last run took {run_s} s')
    return problems


def self_test():
    "Each kind of problem, planted in a small notebook, is found; the same notebook without it passes."
    import tempfile
    def nb(md='# T\n\n**Run time:** about 2 minutes on a 2-core CPU.', src='x = 1\nprint(x)', outputs=True, stamp=None,
           run_s=90):
        code = {'cell_type': 'code', 'source': src, 'metadata': {'source_hash': stamp or source_hash(src)},
                'outputs': [{'output_type': 'stream', 'name': 'stdout', 'text': '1\n'}] if outputs else []}
        return {'cells': [{'cell_type': 'markdown', 'source': md, 'metadata': {}}, code], 'metadata': {'run_seconds': run_s}}
    cases = {'clean': (nb(), 0), 'history': (nb(md='# T\n\n**Run time:** 2 minutes.\n\nFixed in issue 12.'), 1),
             'date': (nb(md='# T\n\n**Run time:** 2 minutes.\n\nMeasured 2026-11-27.'), 1),
             'stale': (nb(stamp='0' * 16), 1), 'no output': (nb(outputs=False), 1),
             'bare expression, no output': (nb(src='x = 1\nx', outputs=False), 1),
             'silent cell': (nb(src='x = 1', outputs=False), 0), 'no run time': (nb(md='# T'), 1),
             'too slow': (nb(run_s=700), 1), 'understated': (nb(run_s=200), 1)}
    twice = nb(); twice['cells'][0]['id'] = twice['cells'][1]['id'] = 'abc'; cases['duplicate cell id'] = (twice, 1)
    busy = nb(run_s=900); busy['metadata']['cpu_seconds'] = 100; cases['busy machine, little CPU'] = (busy, 0)
    slow = nb(run_s=900); slow['metadata']['cpu_seconds'] = 700; cases['too much CPU'] = (slow, 1)
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for name, (content, n_expected) in cases.items():
            path = Path(d) / 'x.ipynb'
            path.write_text(json.dumps(content))
            found = check(path)
            if (len(found) > 0) != (n_expected > 0): ok = False; print(f'self-test {name!r}: found {found}')
    print('self-test', 'passed' if ok else 'FAILED')
    return 0 if ok else 1


def main(argv):
    if argv == ['--self-test']: return self_test()
    paths = [Path(p) for p in argv] or sorted((ROOT / 'nbs').glob('[!_]*.ipynb'))
    bad = 0
    for p in paths:
        problems = check(p)
        bad += bool(problems)
        for msg in problems: print(f'{p.name}: {msg}')
    print(f'{len(paths)} notebooks checked, {bad} with problems')
    return 1 if bad else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
