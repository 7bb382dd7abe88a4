"""The bench's window estimator: each task counts the part of it that fell
in the window, so bursts of completions do not make the rate depend on
where the window falls."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPEC = importlib.util.spec_from_file_location('bench_run', os.path.join(ROOT, 'bench', 'run.py'))
BENCH = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(BENCH)


def burst_spans(slots, duration, generations):
    """Every slot starts together and finishes together: completions in bursts."""
    return [(g * duration, (g + 1) * duration) for g in range(generations) for _slot in range(slots)]


@pytest.mark.parametrize('begin, end', [(1.0, 3.5), (1.2, 3.7), (0.99, 3.01), (1.5, 4.0)])
def test_bursts_give_the_true_rate_wherever_the_window_falls(begin, end):
    # 10 slots x 1 s tasks: 10/s whatever the phase; counting completions in
    # [1.2, 3.7] would give 2 bursts = 20 tasks / 2.5 s = 8/s, in [0.99, 3.01] 30 / 2.02 s.
    spans = [span for span in burst_spans(10, 1.0, 6) if span[1] <= end]
    starts = [span[0] for span in burst_spans(10, 1.0, 6) if span[0] <= end < span[1]]
    assert BENCH.fluid_rate(spans, starts, begin, end) == pytest.approx(10.0, rel=0.01)


def test_running_tasks_count_their_part_and_no_more_than_one():
    # One finished 1 s task in [0, 2], one running since 1.5 (half a mean task),
    # one running since before the window (capped at one task).
    rate = BENCH.fluid_rate([(0.0, 1.0)], [1.5, -5.0], 0.0, 2.0)
    assert rate == pytest.approx((1.0 + 0.5 + 1.0) / 2.0)


def test_tasks_before_the_window_and_an_empty_window_count_nothing():
    assert BENCH.fluid_rate([(0.0, 1.0)], [], 1.0, 2.0) == 0.0
    assert BENCH.fluid_rate([(0.0, 1.0)], [], 2.0, 2.0) == 0.0
