"""[Service] directives from a mapping."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_unit import render_directives


def test_render_table():
    text = render_directives({
        'PrivateTmp': True, 'PrivateUsers': False, 'ProtectSystem': 'strict', 'UMask': '0027',
        'CapabilityBoundingSet': '', 'RestrictAddressFamilies': ['AF_INET', 'AF_UNIX'], 'ProcSubset': None,
    })
    assert text.splitlines() == [
        'CapabilityBoundingSet=', 'PrivateTmp=yes', 'PrivateUsers=no', 'ProtectSystem=strict',
        'RestrictAddressFamilies=AF_INET AF_UNIX', 'UMask=0027']


@pytest.mark.parametrize('directives', [{'privateTmp': True}, {'Bad Name': 1}, {'X': 'a\nb'}])
def test_render_refuses(directives):
    with pytest.raises(ValueError):
        render_directives(directives)


def test_render_refuses_non_mapping():
    with pytest.raises(TypeError):
        render_directives(['PrivateTmp=yes'])
