"""The statistics of benchmarks/evidence_quality.py: FDR selection, trade-off, NPMLE prior."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "evidence_quality.py"


@pytest.fixture(scope="module")
def eq():
    spec = importlib.util.spec_from_file_location("evidence_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fdr_select_takes_the_largest_top_set_within_the_rate(eq):
    prob = np.array([0.2, 0.99, 0.95, 0.7, 0.9])
    # ranked 0.99, 0.95, 0.9, 0.7, 0.2: expected false share 0.01, 0.03, 0.053, 0.115, 0.252
    assert eq.fdr_select(prob, 0.10).tolist() == [False, True, True, False, True]
    assert eq.fdr_select(prob, 0.12).tolist() == [False, True, True, True, True]
    assert not eq.fdr_select(prob, 0.001).any()


def test_trade_off_reads_precision_and_recall_off_the_ranking(eq):
    prob = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    truly = np.array([True, True, False, True, False])
    out = eq._trade_off(prob, truly)
    assert out["recall_at_goal_precision"] == pytest.approx(2 / 3)  # top 2 only
    assert out["precision_at_goal_recall"] == pytest.approx(3 / 4)  # recall 1 needs the top 4


def test_history_npmle_recovers_a_two_point_prior(eq):
    rng = np.random.default_rng(5)
    k = 600
    low = rng.random(k) < 0.25
    rate = np.where(low, 0.35, 0.8)
    n = np.column_stack([rng.integers(20, 200, k), rng.integers(20, 200, k)]).astype(float)
    y = rng.binomial(n.astype(int), rate[:, None]).astype(float)
    support, weight = eq.history_npmle(n, y, step=0.05, iterations=3000)
    near_low = np.all(np.abs(support - 0.35) <= 0.05, axis=1)
    assert weight[near_low].sum() == pytest.approx(0.25, abs=0.05)
    prob = eq._posterior_below(n, y, support, weight, 0.5)
    assert ((prob >= 0.5) == low).mean() > 0.97
