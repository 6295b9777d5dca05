"""The answers to questions the planner's author never saw, over four stores in their own
vocabularies (tests/eval/answer_eval.py): CI prints the untouched set's score."""

from __future__ import annotations

import pytest

from tests.eval import answer_eval

# The untouched set's score at the last measured change, as a floor: a change that makes
# answers worse fails here. The issue asks for 0.80 and more; see the closing note.
HOLDOUT_FLOOR = 0.77  # measured 103/130 (79.2%) on 2026-12-06 (first 73.1%, then 76.2%)
TUNE_FLOOR = 0.92  # measured 298/316 (94.3%)
FRESH_FLOOR = 0.92  # the second tuning set: 103/150 (68.7%) unseen, 143/150 (95.3%) tuned on
FRESH2_FLOOR = 0.84  # the third: 118/150 (78.7%) unseen, 130/150 (86.7%) tuned on


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    return answer_eval.build_stores(tmp_path_factory.mktemp("answer_eval"))


def test_the_checker_reads_every_rule_kind():
    item = {"must": ["signup", {"any": ["2026-08-17", "week of 2026-08"]},
                     {"re": r"1[5-9]\.\d%"}], "must_not": ["No one did"]}
    good = "signup fell in the week of 2026-08-17: 18.8% against 33.5%"
    assert answer_eval.check(item, good) == []
    bad = "No one did signup in 2026-09: 12.0%\n\nSame.\n\nSame."
    failed = answer_eval.check(item, bad)
    assert len(failed) == 4 and "a repeated paragraph" in failed


@pytest.mark.parametrize("name", sorted(answer_eval.SETS))
def test_each_set_is_well_formed(name):
    items = answer_eval.load(name)
    assert answer_eval.problems(items) == []


def test_a_malformed_set_is_told_what_is_wrong():
    items = [{"id": "A1", "store": "demo", "q": "x", "must": [{"re": "("}]},
             {"id": "A1", "store": "mars", "q": "y", "must": ["z"], "after": "A9"}]
    found = answer_eval.problems(items)
    assert len(found) == 4 and any("does not compile" in f for f in found)


@pytest.mark.slow
@pytest.mark.parametrize("name, floor", [("tune", TUNE_FLOOR), ("fresh", FRESH_FLOOR),
                                         ("fresh2", FRESH2_FLOOR), ("holdout", HOLDOUT_FLOOR)])
def test_answers_contain_what_a_right_answer_must(homes, name, floor, capsys):
    items = answer_eval.load(name)
    if not items:
        pytest.skip(f"no {name} set yet")
    outcomes = answer_eval.run(items, homes)
    with capsys.disabled():
        print("\n" + answer_eval.report(name, outcomes))
    assert answer_eval.score(outcomes) >= floor
