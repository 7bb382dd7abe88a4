"""The fault harness's own rules (tests/faults/faults.py): a row passes only
when the fault happened as it says, and "one at a time" is read from the
stop/start windows."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'faults'))

import faults  # noqa: E402


@pytest.mark.parametrize('windows, expected', [
    ({}, 0),
    ({'a': [10.0, 14.0]}, 1),
    # one after the other: b told to stop after a was back
    ({'a': [10.0, 14.0], 'b': [15.0, 19.0], 'c': [20.0, 22.0]}, 1),
    # b stopped before a was back
    ({'a': [10.0, 14.0], 'b': [12.0, 19.0]}, 2),
    # all at once
    ({'a': [10.0, 14.0], 'b': [10.1, 14.2], 'c': [10.2, 14.1]}, 3),
    # a never came back: down to the end, b's window overlaps it
    ({'a': [10.0, None], 'b': [15.0, 19.0]}, 2),
    # back at the very moment the next is stopped: not two down
    ({'a': [10.0, 14.0], 'b': [14.0, 19.0]}, 1),
])
def test_most_down(windows, expected):
    assert faults.most_down(windows) == expected


def test_row_ok_needs_the_fault_proven():
    good = {'lost': 0, 'duplicated': 0, 'proven': True}
    assert faults.row_ok(good)
    assert not faults.row_ok(dict(good, proven=False))
    assert not faults.row_ok(dict(good, duplicated=1))
    assert not faults.row_ok(dict(good, deployed=False))
    assert not faults.row_ok(dict(good, nodes=3, nodes_answered=2))
    assert not faults.row_ok({'fault': 'x', 'error': 'RuntimeError: boom'})


def test_row_ok_counts_a_missing_proof_as_unproven():
    # A row that sets no proof (as the broker outage once did) fails.
    assert not faults.row_ok({'lost': 0, 'duplicated': 0})
    assert not faults.row_ok({'lost': 0, 'duplicated': 0, 'proven': 1})


@pytest.mark.parametrize('change, reasons', [
    ({}, []),
    ({'lost': 5}, ['lost']),
    ({'duplicated': 1}, ['duplicated']),
    ({'restarted': False}, ['not restarted']),
    ({'deployed': False}, ['not deployed']),
    ({'proven': False}, ['unproven']),
    ({'nodes': 3, 'nodes_answered': 2}, ['nodes silent']),
    ({'error': 'RuntimeError: boom', 'lost': None, 'proven': None}, ['error', 'lost', 'unproven']),
])
def test_why_failed_names_each_reason(change, reasons):
    # break_on_purpose.py checks that a broken fault fails for its reason.
    good = {'lost': 0, 'duplicated': 0, 'proven': True}
    assert faults.why_failed(dict(good, **change)) == reasons


@pytest.mark.parametrize('text, state', [
    ('{"alive": true, "kind": "worker", "state": "reconnecting"}', 'reconnecting'),
    ('{"state": "consuming"}', 'consuming'),
    ('', None),  # no file (cat failed) or an empty one
    ('{"state": "consum', None),  # never half a file, but never a crash either
])
def test_heartbeat_state(text, state):
    assert faults.heartbeat_state(text) == state
