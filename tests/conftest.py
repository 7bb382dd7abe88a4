"""Shared by tests/unit and tests/input."""

import os

import pytest


@pytest.fixture
def missing_tool():
    """Skip a test for a tool this machine lacks, except under `make test`
    (CELERYOPS_REQUIRE_TOOLS) or CI, where it installs every tool first and
    nothing may skip: there the test fails instead."""
    def missing(reason):
        if os.environ.get('CELERYOPS_REQUIRE_TOOLS') or os.environ.get('CI'):
            pytest.fail('%s: `make test` installs it before the tests; nothing may skip there' % reason)
        pytest.skip(reason)
    return missing
