"""The GitOps example renders what docs/kubernetes.md says it renders.

examples/kubernetes/ is the inventory the docs' Kubernetes quick start and
GitOps recipe give: the real `celeryops.deploy.site` renders it here (no
cluster), and the objects must be there, with no secret in any file a GitOps
repository would hold (the Secrets are the user's, named by the inventory).
"""

import glob
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(ROOT, 'examples', 'kubernetes', 'hosts.yml')
PASSWORD = 'your_broker_password_here'


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp('render')
    playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.cache', 'collections'),
               ANSIBLE_LOCAL_TEMP=str(out / 'tmp'), ANSIBLE_NOCOLOR='1')
    run = subprocess.run([playbook, '-i', INVENTORY, os.path.join(ROOT, 'playbooks', 'site.yml'),
                          '-e', 'celery_k8s_manifest_dir=%s' % (out / 'shop')],
                         env=env, capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    files = dict((os.path.basename(path), open(path).read())
                 for path in sorted(glob.glob(str(out / 'shop' / '*.yaml'))))
    return files, run.stdout


def objects(files):
    return [doc for text in files.values() for doc in yaml.safe_load_all(text) if doc]


def test_the_example_renders_every_component(rendered):
    kinds = set((doc['kind'], doc['metadata']['name']) for doc in objects(rendered[0]))
    for expected in [('Deployment', 'shop-worker-io'), ('Deployment', 'shop-worker-reports'),
                     ('ScaledObject', 'shop-worker-io'), ('PodDisruptionBudget', 'shop-worker-reports'),
                     ('Deployment', 'shop-beat'), ('Deployment', 'shop-flower'), ('Service', 'shop-flower')]:
        assert expected in kinds, '%s %s not rendered; got %s' % (expected + (sorted(kinds),))


def test_no_secret_lands_in_the_rendered_files(rendered):
    files, log = rendered
    assert not [doc for doc in objects(files) if doc['kind'] == 'Secret'], 'a Secret was rendered'
    for name, text in files.items():
        assert PASSWORD not in text, '%s holds the broker password' % name
    assert PASSWORD not in log


def test_the_pods_read_the_users_secrets(rendered):
    refs = set()
    for doc in objects(rendered[0]):
        if doc['kind'] != 'Deployment':
            continue
        for container in doc['spec']['template']['spec']['containers']:
            refs.update(source['secretRef']['name'] for source in container.get('envFrom', []) if 'secretRef' in source)
    assert {'shop-secrets', 'shop-flower-auth'} <= refs, refs
