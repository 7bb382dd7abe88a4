"""Render examples/kubernetes/ with the real celeryops.deploy.site (tests that need a real run)."""

import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, '.cache', 'collections')


def render_example(out, *extra_vars):
    """Run the real celeryops.deploy.site on examples/kubernetes/ (a render, no cluster, this
    machine unchanged) into ``out``/shop; -> (return code, output, {file name: text})."""
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_LOCAL_TEMP=str(out / 'tmp'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_DEPRECATION_WARNINGS='1')
    argv = [playbook, '-i', os.path.join(ROOT, 'examples', 'kubernetes', 'hosts.yml'),
            os.path.join(ROOT, 'playbooks', 'site.yml'), '-e', 'celery_k8s_manifest_dir=%s' % (out / 'shop')]
    for extra in extra_vars:
        argv += ['-e', extra]
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, check=False)
    files = {}
    for path in sorted(glob.glob(str(out / 'shop' / '*.yaml'))):
        with open(path) as handle:
            files[os.path.basename(path)] = handle.read()
    return run.returncode, run.stdout + run.stderr, files
