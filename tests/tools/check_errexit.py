#!/usr/bin/env python3
"""Finds test helpers whose failed checks are silently ignored.

The integration tests run under `set -e`, and `fail` only prints and
returns 1.  Bash switches errexit off inside a function called as
`f || ...`, `f && ...`, `if f`, `! f`, `while f`, `until f`, `$(f)` (and in every
function that one calls).  There only the status of the function's last
command counts: an earlier failed check prints FAIL and the test passes.

A helper is reported (file:line of the call) when it makes more than one
check, or a check that is not its last command, without collecting them
(`|| bad=1` ... `return "$bad"`, or `|| return 1` after each), and some
caller puts it in such a context.  Exit status 1 when one is found.

Usage: check_errexit.py [FILE...]   (default: tests/integration/*.sh,
contrib/bench/*.sh under the current directory)
"""
import glob
import re
import sys

FUNC_DEF = re.compile(r'^\s*(?:function\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{?\s*(#.*)?$')
WORD = r'[A-Za-z_][A-Za-z0-9_]*'
# A failure of the line reaches the caller or is collected.
COLLECTED = re.compile(r'\|\|\s*(\{\s*)?(return\b|exit\b|[A-Za-z_][A-Za-z0-9_]*=)')


def strip_comment(line):
    out, quote = [], None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in '"\'':
            quote = c
        elif c == '#' and (i == 0 or line[i - 1] in ' \t;'):
            break
        out.append(c)
    return ''.join(out)


def parse_functions(path, lines):
    """name -> (path, def line, [(lineno, text)] of the body)."""
    funcs = {}
    i = 0
    while i < len(lines):
        m = FUNC_DEF.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(lines[i]) - len(lines[i].lstrip())
        name, start, body = m.group(1), i + 1, []
        i += 1
        if lines[i - 1].rstrip().endswith('}') and '{' in lines[i - 1]:
            funcs[name] = (path, start, [])
            continue
        while i < len(lines):
            s = lines[i]
            if s.strip() == '}' and len(s) - len(s.lstrip()) <= indent:
                break
            first, text = i + 1, strip_comment(s).rstrip()
            # a command continued on the next line is one line here
            while re.search(r'(\|\||&&|\\)$', text) and i + 1 < len(lines):
                i += 1
                text = text.rstrip('\\') + ' ' + strip_comment(lines[i]).strip()
            body.append((first, text))
            i += 1
        funcs[name] = (path, start, body)
        i += 1
    return funcs


def calls(text, name):
    return re.search(r'(^|[\s;&|(!`{])' + name + r'(\s|$|;|\))', text) is not None


def checks_of(body, checkers):
    """Body lines that make a check (call fail, an expect_ or a checker)."""
    found = []
    for lineno, text in body:
        if any(calls(text, c) for c in checkers):
            found.append((lineno, text))
    return found


CASE_PATTERN = re.compile(r'^[^()\s][^()]*\)(\s|$)')


def skip_branches(body, j):
    """From an else/elif/case pattern at j, the index after its fi/esac."""
    depth = 0
    while j < len(body):
        t = body[j][1].strip()
        if re.match(r'(if|case)\b', t) and not re.search(r'\b(fi|esac)\s*;?$', t):
            depth += 1
        elif t in ('fi', 'esac') or t.startswith(('fi ', 'esac ')):
            if depth == 0:
                return j + 1
            depth -= 1
        j += 1
    return j


def terminal(body, k):
    """Is body[k] the last command the function runs on its way?"""
    j = k + 1
    while j < len(body):
        t = body[j][1].strip()
        if not t or t in ('}', 'fi', 'esac', ';;'):
            j += 1
        elif t.startswith(('else', 'elif ')) or CASE_PATTERN.match(t):
            j = skip_branches(body, j)
        else:
            return False
    return True


def unsafe(body, checkers):
    """Checks whose failure is lost when errexit is off."""
    checks = set(n for n, _ in checks_of(body, checkers))
    return [(n, t) for k, (n, t) in enumerate(body)
            if n in checks and not COLLECTED.search(t) and not terminal(body, k)]


def off_context(text, name):
    """Does this line call NAME where errexit is off?"""
    n = re.escape(name)
    pats = [
        r'(^|[;&|(\s{])(if|elif|while|until)\s+(!\s+)?' + n + r'\b',
        r'(^|[;&|(\s{])!\s+' + n + r'\b',
        r'(^|[;(\s{])' + n + r'\b[^;|&]*(\|\||&&)',
        r'(\|\||&&)\s*(!\s*)?' + n + r'\b[^;|&]*(\|\||&&)',
        # bash clears errexit in a command substitution (no inherit_errexit)
        r'\$\(\s*(!\s*)?' + n + r'\b',
        r'wait_for\s+\S+\s+["\']?(!\s*)?' + n + r'\b',
    ]
    return any(re.search(p, text) for p in pats)


def main(argv):
    files = argv[1:] or sorted(glob.glob('tests/integration/*.sh') + glob.glob('contrib/bench/*.sh'))
    libs = sorted(glob.glob('tests/integration/*lib.sh'))
    status = 0
    for path in files:
        if path in libs and len(files) > 1:
            continue
        status |= check_file(path, libs)
    return status


def check_file(path, libs):
    """Checks one test file with the libraries it sources."""
    funcs, sources = {}, {}
    for p in [l for l in libs if l != path] + [path]:
        with open(p, encoding='utf-8', errors='replace') as f:
            lines = f.read().split('\n')
        sources[p] = lines
        funcs.update(parse_functions(p, lines))
    # A checker: fail, an expect_ helper, or a function that calls one.
    checkers = {'fail'} | {n for n in funcs if n.startswith('expect_')}
    changed = True
    while changed:
        changed = False
        for name, (_, _, body) in funcs.items():
            if name not in checkers and checks_of(body, checkers):
                checkers.add(name)
                changed = True
    # Where is each function called with errexit off?  Directly, or from
    # the body of a function that is itself called so.
    off = {}
    for path, lines in sources.items():
        for i, line in enumerate(lines):
            text = strip_comment(line)
            for name in funcs:
                if calls(text, name) and off_context(text, name) and not FUNC_DEF.match(line):
                    off.setdefault(name, []).append((path, i + 1, 'called with errexit off'))
    changed = True
    while changed:
        changed = False
        for name in list(off):
            for lineno, text in funcs[name][2]:
                for callee in funcs:
                    if callee != name and callee not in off and calls(text, callee):
                        off[callee] = [(funcs[name][0], lineno, 'inside %s, itself called with errexit off' % name)]
                        changed = True
    bad = 0
    for name in sorted(off):
        path, start, body = funcs[name]
        lost = unsafe(body, checkers - {name})
        if not lost:
            continue
        bad = 1
        where = ', '.join('%d' % n for n, _ in lost)
        for cpath, cline, why in off[name]:
            print('%s:%d: %s %s: its checks at %s:%s count only by the last command'
                  % (cpath, cline, name, why, path, where))
    return bad


if __name__ == '__main__':
    sys.exit(main(sys.argv))
