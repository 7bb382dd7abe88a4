"""The Kubernetes break's probe weakening (molecule/kubernetes/files/weaken_probe.py):
only the named Deployment's probe changes, and a name that is not there is an error,
never a silent copy (a break that changes nothing would prove nothing)."""

import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'molecule', 'kubernetes', 'files'))

import weaken_probe  # noqa: E402


def deployment(name, probe):
    return {'kind': 'Deployment', 'metadata': {'name': name},
            'spec': {'template': {'spec': {'containers': [{'name': 'c', 'livenessProbe': probe}]}}}}


def test_only_the_named_probe_changes(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    src.mkdir()
    docs = [{'kind': 'ConfigMap', 'metadata': {'name': 'cfg'}},
            deployment('shop-worker-io', {'exec': {'command': ['probe', 'alive']}, 'periodSeconds': 30}),
            deployment('shop-worker-cpu', {'exec': {'command': ['probe', 'alive']}})]
    (src / '20-worker.yaml').write_text(yaml.safe_dump_all(docs))
    (src / '40-flower.yaml').write_text(yaml.safe_dump_all([deployment('shop-flower', {'httpGet': {'path': '/'}})]))
    weaken_probe.main(str(src), str(dst), 'shop-worker-io', 'liveness', '["true"]')
    out = list(yaml.safe_load_all((dst / '20-worker.yaml').read_text()))
    probes = [doc['spec']['template']['spec']['containers'][0]['livenessProbe'] for doc in out[1:]]
    assert probes == [{'exec': {'command': ['true']}, 'periodSeconds': 30}, {'exec': {'command': ['probe', 'alive']}}]
    assert out[0] == docs[0]
    assert (dst / '40-flower.yaml').read_text() == (src / '40-flower.yaml').read_text()


def test_an_http_probe_becomes_the_command():
    docs = weaken_probe.weaken([deployment('shop-flower', {'httpGet': {'path': '/'}, 'periodSeconds': 10})],
                               'shop-flower', 'liveness', ['true'])
    assert docs[0]['spec']['template']['spec']['containers'][0]['livenessProbe'] == {
        'exec': {'command': ['true']}, 'periodSeconds': 10}


def test_a_missing_deployment_is_an_error(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / '20-worker.yaml').write_text(yaml.safe_dump_all([deployment('shop-worker-io', {})]))
    with pytest.raises(SystemExit, match='no liveness probe of Deployment shop-worker-cpu'):
        weaken_probe.main(str(src), str(tmp_path / 'dst'), 'shop-worker-cpu', 'liveness', '["true"]')
