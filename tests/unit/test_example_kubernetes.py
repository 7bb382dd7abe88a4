"""The GitOps example renders what docs/kubernetes.md says it renders.

examples/kubernetes/ is the inventory the docs' Kubernetes quick start and
GitOps recipe give: the real `celeryops.deploy.site` renders it here (no
cluster), and the objects must be there, with no secret in any file a GitOps
repository would hold (the Secrets are the user's, named by the inventory).
"""

import pytest
import yaml
from example_render import render_example

PASSWORD = 'your_broker_password_here'


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    code, log, files = render_example(tmp_path_factory.mktemp('render'))
    assert code == 0, log[-5000:]
    assert 'DEPRECATION' not in log, 'the example uses a deprecated name'
    return files, log


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
