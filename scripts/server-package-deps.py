#!/usr/bin/env python3
"""Which server packages import which, and the pairs that import each other (arrows that run back up).

Usage: scripts/server-package-deps.py [server/src/main/java/io/peregrine/server]
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else 'server/src/main/java/io/peregrine/server'
deps = {}
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d)
    if not os.path.isdir(p):
        continue
    uses = set()
    for f in os.listdir(p):
        if f.endswith('.java'):
            with open(os.path.join(p, f)) as src:
                for m in re.finditer(r'io\.peregrine\.server\.([a-z]+)\.[A-Z]', src.read()):
                    if m.group(1) != d:
                        uses.add(m.group(1))
    deps[d] = uses
mutual = sorted({tuple(sorted((a, b))) for a in deps for b in deps[a] if a in deps.get(b, ())})
for k, v in deps.items():
    print(f'{k}: {" ".join(sorted(v))}')
print('mutual pairs:', len(mutual), ' '.join(f'{a}<->{b}' for a, b in mutual))
apis = {'chat', 'completions', 'responses', 'anthropic'}
print('http imports API packages:', ' '.join(sorted(deps.get('http', set()) & apis)) or 'none')
