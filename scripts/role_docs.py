"""Role specs and docs from one source each (`make docs` writes, `make lint` checks).

- The shared variables (celery_app_name, celery_broker_url, ...) are specified
  once, in roles/celery_common/meta/argument_specs.yml (entry point `main`).
  Every public role accepts them, so its own meta/argument_specs.yml lists
  them after its own options (ansible-doc shows them, argument validation
  checks them): copied from there by this script, never edited by hand.
- The variables tables of the role READMEs are rendered from the specs
  between markers:
      <!-- BEGIN generated: <table> ... -->  ...  <!-- END generated: <table> -->
  <table> is `variables` (the role's own options) or `group keys` (the
  suboptions of celery_worker_groups).
- docs/variables.md, the reference of every variable, is written whole from
  the specs: the shared variables grouped by subject, then each role's own.
- The table of renamed variables in docs/naming.md (markers as above,
  `renamed variables`) is rendered from plugins/plugin_utils/_celery_renames.py.

A default is the spec's; without one, the role's defaults/main.yml value
(often an expression of another variable); otherwise "unset".

  python scripts/role_docs.py          write the specs and READMEs
  python scripts/role_docs.py --check  exit 1 naming every file that differs
"""

import argparse
import importlib.util
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC = ('celery_worker', 'celery_beat', 'celery_flower')
SHARED_SPEC = os.path.join('roles', 'celery_common', 'meta', 'argument_specs.yml')
SPEC_HEADER = ('---\n'
               '# Options named %s_*: this role\'s own, edit them here. The options after\n'
               '# them are the shared variables, copied from %s\n'
               '# by scripts/role_docs.py (`make docs`); edit them there.\n')
MARKER = re.compile(r'(<!-- BEGIN generated: (?P<table>[a-z ]+?) -->\n)(?P<body>.*?)(<!-- END generated: (?P=table) -->)',
                    re.S)


class _Dumper(yaml.SafeDumper):
    """Block mappings, sequences indented under their key (yamllint's
    default), short lists of scalars in flow style as the files had them."""

    def increase_indent(self, flow=False, indentless=False):
        return super(_Dumper, self).increase_indent(flow, False)


def _represent_list(dumper, value):
    flow = all(not isinstance(item, (dict, list)) for item in value) and len(json.dumps(value)) < 60
    return dumper.represent_sequence('tag:yaml.org,2002:seq', value, flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, lambda dumper, value: dumper.represent_mapping(
    'tag:yaml.org,2002:map', value.items(), flow_style=False))


def dump(data):
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True, default_flow_style=False)


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def role_spec(role, shared):
    """The role's spec text: its own options (role prefix) then the shared ones."""
    path = os.path.join('roles', role, 'meta', 'argument_specs.yml')
    spec = load(path)
    main = spec['argument_specs']['main']
    own = dict((name, value) for name, value in main['options'].items() if name.startswith(role + '_'))
    strays = [name for name in main['options'] if name not in own and name not in shared]
    if strays:
        sys.exit('%s: options %s are neither %s_* nor shared (%s)' % (path, ', '.join(strays), role, SHARED_SPEC))
    main['options'] = dict(own, **shared)
    return path, SPEC_HEADER % (role, SHARED_SPEC) + dump(spec)


def markdown(text):
    """Ansible doc markup to Markdown."""
    text = ' '.join(text) if isinstance(text, list) else (text or '')
    text = re.sub(r'\b[CVO]\(([^()]*(?:\([^()]*\)[^()]*)*)\)', r'`\1`', text)
    text = re.sub(r'\b[MP]\(([^)#]*)(?:#[a-z]+)?\)', r'`\1`', text)
    text = re.sub(r'\bI\(([^)]*)\)', r'*\1*', text)
    text = re.sub(r'\bB\(([^)]*)\)', r'**\1**', text)
    text = re.sub(r'\bU\(([^)]*)\)', r'\1', text)
    text = re.sub(r'\bL\(([^,]*),\s*([^)]*)\)', r'[\1](\2)', text)
    return ' '.join(text.split()).replace('|', '\\|')


def default_text(name, option, defaults):
    if 'default' in option:
        value = option['default']
    elif name in defaults:
        value = defaults[name]
    else:
        return 'unset'
    if value is None:
        return 'unset'
    if isinstance(value, str) and value.startswith('{{') and value.endswith('}}') and value.count('{{') == 1:
        return '`%s`' % value[2:-2].strip()  # another variable or an expression of it
    text = json.dumps(value) if not isinstance(value, str) else (value or '""')
    if len(text) > 60:
        return 'see defaults/main.yml'
    return '`%s`' % text


def table(options, defaults, keys=False):
    if keys:
        lines = ['| key | default | meaning |', '|---|---|---|']
    else:
        lines = ['| variable | default | meaning |', '|---|---|---|']
    for name, option in options.items():
        meaning = markdown(option.get('description'))
        if option.get('required'):
            meaning = '**required**. ' + meaning
        if option.get('choices') and not keys and not all('`%s`' % choice in meaning for choice in option['choices']):
            meaning += ' One of %s.' % ', '.join('`%s`' % choice for choice in option['choices'])
        lines.append('| `%s` | %s | %s |' % (name, default_text(name, option, defaults), meaning))
    return '\n'.join(lines) + '\n'


def readme(path, tables):
    with open(os.path.join(ROOT, path)) as handle:
        text = handle.read()
    seen = set()

    def fill(match):
        name = match.group('table')
        if name not in tables:
            sys.exit('%s: no table named %r (known: %s)' % (path, name, ', '.join(sorted(tables))))
        seen.add(name)
        # Blank lines around the table: the comments are HTML blocks of their own.
        return match.group(1) + '\n' + tables[name] + '\n' + match.group(4)
    text = MARKER.sub(fill, text)
    missing = set(tables) - seen
    if missing:
        sys.exit('%s: no markers for %s' % (path, ', '.join(sorted(missing))))
    return path, text


# The shared variables' subjects in docs/variables.md: the first prefix that
# matches names the section (order matters: celery_broker_exporter_ before
# celery_broker_).
SUBJECTS = (
    ('Monitoring: rules, alerts, the broker exporter',
     ('celery_prometheus_', 'celery_alert_', 'celery_broker_exporter_')),
    ('Logging', ('celery_log', 'celery_no_log')),
    ('systemd hosts', ('celery_systemd_',)),
    ('Docker Compose', ('celery_compose_', 'celery_container_', 'celery_image')),
    ('Kubernetes', ('celery_k8s_',)),
    ('The app, its broker, releases and paths', ('celery_',)),
)
VARIABLES_PAGE = os.path.join('docs', 'variables.md')
VARIABLES_HEAD = '''# Variables

<!-- Written by scripts/role_docs.py from the roles' meta/argument_specs.yml (`make docs`);
     `make lint` fails when it drifts. Edit the specs, not this page. -->

Every public role (`celery_worker`, `celery_beat`, `celery_flower`) takes the
shared variables, specified once in `roles/celery_common/meta/argument_specs.yml`,
and its own, named after it. Argument validation checks them all before a
task runs, and `ansible-doc -t role celeryops.deploy.<role>` shows the same
text. A default written as a variable (`celery_app_name`) or an expression
follows that variable; "unset" means no default.

'''


def _script(name, path):
    """A module of this repository loaded from its file (scripts/ and plugin_utils are no package here)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def anchor(title):
    """GitHub's anchor of a Markdown heading: docs_check's, which checks the links to it."""
    return _script('docs_check', os.path.join('scripts', 'docs_check.py')).anchor(title)


def variables_page(shared, common_defaults, roles):
    """docs/variables.md: a table of contents, the shared variables by subject, each role's own."""
    sections = []
    grouped = dict((subject[0], {}) for subject in SUBJECTS)
    for name, option in shared.items():
        title = next(title for title, prefixes in SUBJECTS if name.startswith(prefixes))
        grouped[title][name] = option
    for subject in (SUBJECTS[-1],) + SUBJECTS[:-1]:  # the app first; the catch-all prefix is matched last
        sections.append(('Shared: ' + subject[0], table(grouped[subject[0]], common_defaults)))
    for role, own, defaults in roles:
        sections.append(('%s' % role, table(own, defaults)))
        if 'celery_worker_groups' in own:
            sections.append(('celery_worker: keys of each entry of celery_worker_groups',
                             table(own['celery_worker_groups']['options'], {}, keys=True)))
    toc = ''.join('- [%s](#%s)\n' % (section[0], anchor(section[0])) for section in sections)
    body = ''.join('\n## %s\n\n%s' % section for section in sections)
    return VARIABLES_HEAD + toc + body


def renamed_table():
    """The renamed variables (old -> new, the role) from the one table the roles use."""
    renames = _script('_celery_renames', os.path.join('plugins', 'plugin_utils', '_celery_renames.py'))
    lines = ['| old name (deprecated, removed in %s) | new name | role |' % renames.REMOVED_IN, '|---|---|---|']
    for scope, names in sorted(renames.RENAMED.items()):
        role = 'every role (shared)' if scope == 'celery_common' else scope
        lines += ['| `%s` | `%s` | %s |' % (old, new, role) for old, new in sorted(names.items())]
    return '\n'.join(lines) + '\n'


def outputs():
    shared = load(SHARED_SPEC)['argument_specs']['main']['options']
    common_defaults = load(os.path.join('roles', 'celery_common', 'defaults', 'main.yml')) or {}
    out = []
    roles = []
    for role in PUBLIC:
        path, text = role_spec(role, shared)
        out.append((path, text))
        options = yaml.safe_load(text)['argument_specs']['main']['options']
        defaults = load(os.path.join('roles', role, 'defaults', 'main.yml')) or {}
        own = dict((name, value) for name, value in options.items() if name.startswith(role + '_'))
        tables = {'variables': table(own, defaults)}
        if 'celery_worker_groups' in own:
            tables['group keys'] = table(own['celery_worker_groups']['options'], {}, keys=True)
        out.append(readme(os.path.join('roles', role, 'README.md'), tables))
        roles.append((role, own, defaults))
    out.append((VARIABLES_PAGE, variables_page(shared, common_defaults, roles)))
    out.append(readme(os.path.join('docs', 'naming.md'), {'renamed variables': renamed_table()}))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='change nothing; exit 1 naming the files that differ')
    args = parser.parse_args()
    stale = []
    for path, text in outputs():
        current = ''
        if os.path.exists(os.path.join(ROOT, path)):
            with open(os.path.join(ROOT, path)) as handle:
                current = handle.read()
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            with open(os.path.join(ROOT, path), 'w') as handle:
                handle.write(text)
    if args.check and stale:
        sys.exit('out of date (run make docs): %s' % ', '.join(stale))
    print('%s: %s' % ('checked' if args.check else 'written', ', '.join(stale) or 'nothing to change'))


if __name__ == '__main__':
    main()
