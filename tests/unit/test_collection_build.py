"""The tarball ships the collection a user needs and nothing of the dev tree.

`ansible-galaxy collection build` packs every file under the collection root
that galaxy.yml's build_ignore does not leave out, so a new dev directory, a
cache a tool wrote into the checkout or a local secret file would reach every
user who installs the tarball. And what the user relies on (LICENSE, the role
specs, the plugins, the playbooks) must be there. The tarball is built once
into a temporary directory (never into the checkout) and its member list and
MANIFEST.json are checked here.
"""

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What the tarball must not carry: the dev tree at the collection root ...
FORBIDDEN_TOP = ('tests', 'molecule', 'bench', 'scripts', '.ci', '.config', '.cache', '.venv',
                 '.ansible', '.pytest_cache', 'changelogs/fragments')
FORBIDDEN_TOP_FILES = ('Makefile', 'requirements-*.txt', 'constraints*.txt', 'galaxy.yml',
                       '.gitignore', '.yamllint', '.ansible-lint', '.ansible-lint-ignore', '.shellcheckrc')
# ... and, at any depth, version control, caches, bytecode, secrets, built tarballs.
FORBIDDEN_PARTS = ('.git', '.cache', '.venv', '.pytest_cache', '__pycache__', '.env')
FORBIDDEN_NAMES = ('*.pyc', '*.tar.gz', '.env.*', '*.swp', '*~')


def _ansible_galaxy():
    beside = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')
    return beside if os.access(beside, os.X_OK) else shutil.which('ansible-galaxy')


def _git_files(*args):
    if shutil.which('git') is None:
        pytest.skip('git is not installed')
    run = subprocess.run(['git', '-C', ROOT, 'ls-files', '-z'] + list(args),
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        pytest.skip('%s is not a git checkout: %s' % (ROOT, run.stderr.strip()))
    return [path for path in run.stdout.split('\0') if path]


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    galaxy = _ansible_galaxy()
    assert galaxy, 'no ansible-galaxy beside %s nor on PATH' % sys.executable
    out = tmp_path_factory.mktemp('build')
    # cwd out of the checkout too: nothing of the build may land in the repo.
    run = subprocess.run([galaxy, 'collection', 'build', '--output-path', str(out), ROOT],
                         cwd=str(out), capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, 'ansible-galaxy collection build failed:\n%s%s' % (run.stdout, run.stderr)
    built = [name for name in os.listdir(str(out)) if name.endswith('.tar.gz')]
    assert len(built) == 1, 'expected one tarball in %s, got %s' % (out, built)
    return os.path.join(str(out), built[0])


@pytest.fixture(scope='module')
def members(tarball):
    with tarfile.open(tarball) as tar:
        return {info.name: info for info in tar.getmembers()}


@pytest.fixture(scope='module')
def manifest(tarball):
    with tarfile.open(tarball) as tar:
        return json.load(tar.extractfile('MANIFEST.json'))


def _files(members):
    return sorted(name for name, info in members.items() if not info.isdir())


def _galaxy_yml():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle)


def test_ships_the_top_level_files(members):
    required = ['README.md', 'LICENSE', 'CHANGELOG.md', 'MANIFEST.json', 'FILES.json',
                'meta/runtime.yml', 'changelogs/changelog.yaml']
    missing = [name for name in required if name not in members]
    assert not missing, 'the tarball lacks %s' % missing


def test_ships_every_role_spec(members):
    roles = sorted(name for name in os.listdir(os.path.join(ROOT, 'roles'))
                   if os.path.isdir(os.path.join(ROOT, 'roles', name)))
    assert roles
    missing = ['roles/%s/meta/argument_specs.yml' % role for role in roles
               if 'roles/%s/meta/argument_specs.yml' % role not in members]
    assert not missing, 'the tarball lacks %s' % missing


def test_ships_every_tracked_plugin(members):
    plugins = _git_files('plugins')
    assert plugins
    missing = [path for path in plugins if path not in members]
    assert not missing, 'git tracks these plugin files but the tarball lacks them: %s' % missing


def test_ships_every_playbook(members):
    playbooks = sorted('playbooks/%s' % name for name in os.listdir(os.path.join(ROOT, 'playbooks'))
                       if name.endswith('.yml'))
    assert playbooks
    missing = [path for path in playbooks if path not in members]
    assert not missing, 'the tarball lacks %s' % missing


def test_ships_the_user_facing_directories(members):
    wanted = ['docs', 'dashboards', 'examples', 'plugins', 'roles', 'playbooks', 'meta']
    missing = [name for name in wanted
               if os.path.isdir(os.path.join(ROOT, name)) and name not in members]
    assert not missing, 'build_ignore leaves out %s' % missing


def _forbidden(name):
    parts = name.split('/')
    if any(name == top or name.startswith(top + '/') for top in FORBIDDEN_TOP):
        return True
    if len(parts) == 1 and any(fnmatch.fnmatch(name, pattern) for pattern in FORBIDDEN_TOP_FILES):
        return True
    if any(part in FORBIDDEN_PARTS for part in parts):
        return True
    return any(fnmatch.fnmatch(parts[-1], pattern) for pattern in FORBIDDEN_NAMES)


def _some(names):
    return '%d, e.g. %s' % (len(names), names[:10])


def test_ships_nothing_of_the_dev_tree(members):
    leaked = sorted(name for name in members if _forbidden(name))
    assert not leaked, 'the tarball ships what build_ignore in galaxy.yml should leave out: %s' % _some(leaked)


def test_ships_no_file_git_ignores(members):
    # Anything .gitignore hides (caches, local secrets, built artefacts) is
    # not part of the collection; new files not yet added are fine.
    known = set(_git_files('--cached', '--others', '--exclude-standard'))
    stray = [name for name in _files(members)
             if name not in ('MANIFEST.json', 'FILES.json') and name not in known]
    assert not stray, 'the tarball ships files git ignores (add them to build_ignore): %s' % _some(stray)


def test_manifest_version_is_galaxy_yml_version(manifest):
    assert manifest['collection_info']['version'] == _galaxy_yml()['version']


def test_manifest_has_no_placeholder_url(manifest):
    info = manifest['collection_info']
    placeholders = {key: value for key, value in info.items()
                    if isinstance(value, str) and 'example.invalid' in value}
    assert not placeholders, 'MANIFEST.json names placeholder URLs: %s' % placeholders


def test_license_is_apache_and_shipped(manifest, members, tarball):
    assert manifest['collection_info']['license'] == ['Apache-2.0']
    assert 'LICENSE' in members, 'galaxy.yml claims Apache-2.0 but the tarball has no LICENSE'
    with tarfile.open(tarball) as tar:
        text = tar.extractfile('LICENSE').read().decode('utf-8')
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text, \
        'LICENSE is not the Apache-2.0 text that galaxy.yml claims'
