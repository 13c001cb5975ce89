"""Ranking metrics against values worked out by hand on tiny rankings."""

from __future__ import annotations

import math

import pytest

from understudy.evaluate.calibrate import Calibration, calibration_report, fit_calibration
from understudy.evaluate.metrics import (
    average_precision,
    ndcg_at,
    official_average_precision,
    precision_at,
    rank_candidates,
    reciprocal_rank,
    retrieval_scores,
    semeval_scores,
)

T, F = True, False


def test_official_ap_averages_precision_over_the_relevant_items_found():
    # relevant at 1 and 3: (1/1 + 2/3) / 2
    assert official_average_precision([T, F, T, F]) == pytest.approx((1 + 2 / 3) / 2)


def test_official_ap_only_counts_the_top_ten():
    assert official_average_precision([F] * 10 + [T]) == 0.0
    # one relevant found at 2 and one at 11: only the first counts, divided by one
    assert official_average_precision([F, T] + [F] * 8 + [T]) == pytest.approx(0.5)
    # the textbook AP divides by every relevant item and reads the whole ranking
    assert average_precision([F, T] + [F] * 8 + [T]) == pytest.approx((1 / 2 + 2 / 11) / 2)
    assert average_precision([F, T], total_relevant=4) == pytest.approx(0.5 / 4)


def test_ties_keep_the_given_order():
    assert rank_candidates(["a", "b", "c"], [0.5, 0.5, 0.9]) == ["c", "a", "b"]
    # the same scores, but "b" (relevant) given first: its AP goes from 1/2 to 1
    relevant = {"b"}
    first = rank_candidates(["a", "b", "c"], [0.5, 0.5, 0.1])
    second = rank_candidates(["b", "a", "c"], [0.5, 0.5, 0.1])
    assert official_average_precision([c in relevant for c in first]) == pytest.approx(0.5)
    assert official_average_precision([c in relevant for c in second]) == pytest.approx(1.0)


def test_reciprocal_rank_and_precision():
    assert reciprocal_rank([F, F, T, T]) == pytest.approx(1 / 3)
    assert reciprocal_rank([F] * 10 + [T], cutoff=10) == 0.0
    assert reciprocal_rank([F] * 10 + [T]) == pytest.approx(1 / 11)
    assert precision_at([T, F, T, T, F, F], 1) == 1.0
    assert precision_at([T, F, T, T, F, F], 5) == pytest.approx(3 / 5)
    assert precision_at([T, T], 10) == pytest.approx(2 / 10)


def test_ndcg_at_ten():
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at([F, T, T], 10) == pytest.approx(dcg / ideal)
    assert ndcg_at([T, F], 10) == 1.0
    assert ndcg_at([F] * 10 + [T], 10) == 0.0
    assert ndcg_at([F, F], 10) == 0.0


def test_semeval_scores_in_percent_with_a_query_without_relevant_items():
    rankings = {"q1": ["a", "b", "c"], "q2": ["x", "y"]}
    relevant = {"q1": {"a", "c"}, "q2": set()}
    scores = semeval_scores(rankings, relevant)
    assert scores["MAP"] == pytest.approx(100 * ((1 + 2 / 3) / 2 + 0) / 2)
    assert scores["MRR"] == pytest.approx(50.0)
    assert scores["P@1"] == pytest.approx(50.0)
    assert scores["P@5"] == pytest.approx(100 * (2 / 5) / 2)


def test_retrieval_scores_with_one_right_thread_per_query():
    rankings = {"0:0": ["1", "0", "2"], "0:1": ["0", "1", "2"]}
    relevant = {"0:0": {"0"}, "0:1": {"0"}}
    scores = retrieval_scores(rankings, relevant)
    assert scores["MAP"] == pytest.approx(100 * (1 / 2 + 1) / 2)
    assert scores["MRR"] == scores["MAP"]
    assert scores["P@1"] == pytest.approx(50.0)
    assert scores["nDCG@10"] == pytest.approx(100 * (1 / math.log2(3) + 1) / 2)


def test_calibration_rises_with_the_score_and_reports_on_other_pairs():
    train = [(0.2, F), (0.3, F), (0.35, T), (0.4, F), (0.5, T), (0.6, T), (0.7, T), (0.8, T)]
    calibration = fit_calibration(train, threshold=0.5)
    assert calibration.a > 0
    assert calibration.confidence(0.8) > calibration.confidence(0.2)
    report = calibration_report(Calibration(10.0, -5.0, 0.5), [(0.9, T), (0.1, F), (0.6, F)])
    # answered: 0.9 and 0.6 (confidence >= 0.5); one of the two is right
    assert report["answered"] == pytest.approx(2 / 3)
    assert report["precision_answered"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        fit_calibration([(0.2, T), (0.4, T)])
