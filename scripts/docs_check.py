"""The docs point only at what exists (`make lint`).

Every Markdown page a user reads (README.md, docs/*.md, the roles' and the
examples' READMEs) is read for what it names, and each must exist:

- links to files of the repository, and the heading an anchor names;
- variables (`celery_*` inside code): an option of a role's spec, a role,
  module or filter of the collection, or a variable a playbook of the
  collection declares (docs/upgrading.md may also name what the changelog
  names: removed and renamed things);
- `make <target>`: a target of the Makefile;
- paths of the repository inside code (`molecule/...`, `scripts/x.py`), a
  glob matching at least one file;
- `SCENARIOS=`/`BREAK_SCENARIOS=` a Molecule scenario (or `faults`),
  `BREAKS=` a break of scripts/break-checks.sh or a case of
  tests/faults/break_on_purpose.py.

A figure is only as good as the command that produces it: a renamed target,
a moved file or a dropped variable would leave the docs telling a user to
run or set what is not there.

  python scripts/docs_check.py [ROOT]   exit 1 naming each page, line and problem
"""

import glob
import os
import re
import sys

import yaml

UPGRADING = os.path.join('docs', 'upgrading.md')
PAGES = ('README.md', 'docs/*.md', 'roles/*/README.md', 'examples/*/README.md')
# Top-level directories whose paths, written in code, must exist.
TREES = ('roles', 'plugins', 'molecule', 'scripts', 'tests', 'examples', 'bench', 'dashboards',
         'playbooks', 'docs', 'changelogs', 'meta')
CODE_SPAN = re.compile(r'`([^`\n]+)`')
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
VARIABLE = re.compile(r'(?<![\w.-])(celery_[a-z0-9_]+)')
MAKE = re.compile(r'\bmake ((?:[A-Z_]+=\S+ )*)([a-z][a-z0-9_-]*)')
ASSIGNMENT = re.compile(r'\b(SCENARIOS|BREAK_SCENARIOS|BREAKS)=("[^"]*"|\'[^\']*\'|\S+)')
PATH = re.compile(r'(?<![\w./-])((?:%s)/[A-Za-z0-9_./*<>{}-]*)' % '|'.join(TREES))


def read(root, path):
    with open(os.path.join(root, path)) as handle:
        return handle.read()


def anchor(title):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    title = re.sub(r'[`*]', '', title).strip().lower()
    return re.sub(r'[^a-z0-9 _-]', '', title).replace(' ', '-')


def headings(text):
    """The anchors of a page's headings (outside code blocks), repeats numbered as GitHub does."""
    seen = {}
    found = set()
    for line in strip_code_blocks(text).splitlines():
        match = re.match(r'^#{1,6} (.*)', line)
        if match:
            base = anchor(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if not count else '%s-%d' % (base, count))
    return found


def strip_code_blocks(text):
    return re.sub(r'^```.*?^```', lambda match: '\n' * match.group(0).count('\n'), text, flags=re.S | re.M)


def code_of(text):
    """[(line number, code)]: the inline code spans and the lines of fenced blocks."""
    out = []
    block = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith('```'):
            block = not block
            continue
        if block:
            out.append((number, line))
        else:
            out.extend((number, span) for span in CODE_SPAN.findall(line))
    return out


def spec_names(root):
    """Every option name in every role's spec, suboptions included."""
    names = set()

    def walk(options):
        for name, option in (options or {}).items():
            names.add(name)
            walk((option or {}).get('options'))
    for path in glob.glob(os.path.join(root, 'roles', '*', 'meta', 'argument_specs.yml')):
        with open(path) as handle:
            for entry in (yaml.safe_load(handle) or {}).get('argument_specs', {}).values():
                walk(entry.get('options'))
    return names


def playbook_vars(root):
    """Variables the collection's playbooks take or declare: read with a default
    (their inputs, `-e celery_status_json=...`), play `vars`, `set_fact` keys,
    and the inventory groups their plays run on."""
    names = set()
    for path in glob.glob(os.path.join(root, 'playbooks', '*.yml')):
        with open(path) as handle:
            text = handle.read()
        names.update(re.findall(r'\b(celery_[a-z0-9_]+) \| default\(', text))
        for hosts in re.findall(r'^\s*hosts: (\S+)', text, re.M):
            names.update(hosts.split(':'))

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ('vars', 'ansible.builtin.set_fact', 'set_fact') and isinstance(value, dict):
                    names.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    for path in glob.glob(os.path.join(root, 'playbooks', '*.yml')):
        with open(path) as handle:
            walk(yaml.safe_load(handle))
    return names


def stems(root, pattern):
    return set(os.path.splitext(os.path.basename(path.rstrip('/')))[0] for path in glob.glob(os.path.join(root, pattern)))


def known_names(root):
    return (spec_names(root) | playbook_vars(root) | stems(root, 'roles/*/') | stems(root, 'plugins/modules/*.py')
            | stems(root, 'plugins/filter/*.yml') | stems(root, 'plugins/filter/*.py'))


def changelog_names(root):
    """The names the changelog (released and unreleased) mentions."""
    paths = [os.path.join(root, 'changelogs', 'changelog.yaml')] + glob.glob(
        os.path.join(root, 'changelogs', 'fragments', '*.yml'))
    names = set()
    for path in paths:
        if os.path.exists(path):
            with open(path) as handle:
                names.update(VARIABLE.findall(handle.read()))
    return names


def make_targets(root):
    return set(re.findall(r'^([a-z][a-z0-9_-]*):', read(root, 'Makefile'), re.M))


def break_names(root):
    names = set(re.findall(r'\[[a-z]+:([a-z_]+)\]=', read(root, 'scripts/break-checks.sh')))
    cases = re.search(r'^CASES = \{(.*?)^\}', read(root, 'tests/faults/break_on_purpose.py'), re.S | re.M)
    names.update(re.findall(r"^\s+'([a-z_]+)':", cases.group(1), re.M))
    return names


def scenarios(root):
    return set(os.path.basename(os.path.dirname(path))
               for path in glob.glob(os.path.join(root, 'molecule', '*', 'molecule.yml')))


def path_exists(root, base, path):
    """A repository path written in the docs: placeholders (<app>) match anything."""
    path = path.rstrip('.,:;')
    if '...' in path:
        return True
    pattern = re.sub(r'<[^>]*>', '*', re.sub(r'\{[^}]*\}', '*', path))
    return bool(glob.glob(os.path.join(root, pattern))) or bool(glob.glob(os.path.join(root, base, pattern)))


def check_page(root, page, context):
    text = read(root, page)
    base = os.path.dirname(page)
    problems = []
    prose = strip_code_blocks(text)
    for number, line in enumerate(prose.splitlines(), 1):
        for target in LINK.findall(CODE_SPAN.sub('', line)):
            if re.match(r'^[a-z]+:', target):
                continue  # http:, mailto:
            path, fragment = (target.split('#', 1) + [''])[:2]
            file_path = os.path.normpath(os.path.join(base, path)) if path else page
            if not os.path.exists(os.path.join(root, file_path)):
                problems.append((number, 'link to %s: no such file' % target))
            elif fragment and file_path.endswith('.md') and fragment not in context['headings'](file_path):
                problems.append((number, 'link to %s: %s has no heading with that anchor' % (target, file_path)))
    names = context['names'] | (context['changelog'] if page == UPGRADING else set())
    for number, code in code_of(text):
        for name in VARIABLE.findall(code):
            if name not in names and not name.endswith('_'):  # `celery_worker_*`: a prefix
                problems.append((number, '%s: no role spec, module, filter or playbook has this name' % name))
        for target in [match[1] for match in MAKE.findall(code)]:
            if target not in context['targets']:
                problems.append((number, 'make %s: no such target in the Makefile' % target))
        for key, value in ASSIGNMENT.findall(code):
            allowed = context['breaks'] if key == 'BREAKS' else context['scenarios'] | {'faults'}
            for word in re.sub(r'<[^>]*>|\.\.\.', '', value.strip('"\'')).split():
                if word not in allowed:
                    problems.append((number, '%s=%s: %s is not a known %s' % (
                        key, value, word, 'break' if key == 'BREAKS' else 'scenario')))
        for path in PATH.findall(code):
            if not path_exists(root, base, path):
                problems.append((number, '%s: no such file in the repository' % path))
    return problems


def check(root):
    """{page: [(line, problem)]} of every page with problems."""
    cache = {}

    def page_headings(path):
        if path not in cache:
            cache[path] = headings(read(root, path))
        return cache[path]
    context = {'names': known_names(root), 'targets': make_targets(root), 'breaks': break_names(root),
               'scenarios': scenarios(root), 'headings': page_headings, 'changelog': changelog_names(root)}
    pages = sorted(set(os.path.relpath(path, root) for pattern in PAGES
                       for path in glob.glob(os.path.join(root, pattern))))
    return dict((page, problems) for page in pages for problems in [check_page(root, page, context)] if problems)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = argv[0] if argv else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = check(root)
    for page, problems in sorted(found.items()):
        for number, problem in problems:
            print('%s:%d: %s' % (page, number, problem))
    if found:
        print('docs_check: %d problems; the docs must name only what exists' % sum(map(len, found.values())))
        return 1
    print('docs_check: every link, variable, make target, scenario, break and path the docs name exists')
    return 0


if __name__ == '__main__':
    sys.exit(main())
