"""scripts/role_docs.py: Ansible markup to Markdown, and the default column."""

import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'scripts', 'role_docs.py')
spec = importlib.util.spec_from_file_location('role_docs', SCRIPT)
role_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(role_docs)


@pytest.mark.parametrize('text, expected', [
    ('C(absent) stops it.', '`absent` stops it.'),
    (['Line one with O(x).', 'Line I(two).'], 'Line one with `x`. Line *two*.'),
    ('C(TimeoutStopSec=) and C(max,min).', '`TimeoutStopSec=` and `max,min`.'),
    ('C(f(x)) nested', '`f(x)` nested'),
    ('a | b', 'a \\| b'),
    ('M(celeryops.deploy.celery_worker_plan) and P(celeryops.deploy.x#filter)',
     '`celeryops.deploy.celery_worker_plan` and `celeryops.deploy.x`'),
])
def test_markdown(text, expected):
    assert role_docs.markdown(text) == expected


@pytest.mark.parametrize('option, defaults, expected', [
    ({'default': 'present'}, {}, '`present`'),
    ({'default': ''}, {}, '`""`'),
    ({'default': 90}, {}, '`90`'),
    ({'default': False}, {}, '`false`'),
    ({'default': []}, {}, '`[]`'),
    ({}, {'x': '{{ celery_log_level }}'}, '`celery_log_level`'),
    ({}, {'x': '{{ celery_state_dir }}/flower.db'}, '`{{ celery_state_dir }}/flower.db`'),
    ({}, {}, 'unset'),
    ({'default': None}, {}, 'unset'),
    ({'default': dict(('k%d' % n, True) for n in range(10))}, {}, 'see defaults/main.yml'),
])
def test_default_text(option, defaults, expected):
    assert role_docs.default_text('x', option, defaults) == expected


def test_the_tree_is_in_sync():
    """What `make lint` checks: every generated file is what the specs give."""
    for path, text in role_docs.outputs():
        with open(os.path.join(role_docs.ROOT, path)) as handle:
            assert handle.read() == text, path
