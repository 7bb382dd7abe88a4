"""The collection claims only the ansible-core its tests run on."""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_requires_ansible_starts_at_the_tested_core():
    with open(os.path.join(ROOT, 'requirements-dev.txt')) as handle:
        pinned = re.search(r'^ansible-core==(\S+)$', handle.read(), re.M).group(1)
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        claim = yaml.safe_load(handle)['requires_ansible']
    assert claim == '>=%s' % pinned
