"""scripts/mutation.py: how a campaign is split into shards and their summaries added up.

The campaign itself (cosmic-ray, hours) is not run here; these are the pure parts that decide
which mutant each shard runs and what the merged summary counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import sys

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts/mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_shards_split_every_mutant_into_exactly_one_of_them(mutation):
    places = [((line, col), (line, col + 3), "op", 0) for line in (9, 2, 5) for col in (4, 1)]
    shards = [mutation.in_shard(places, (k, 3)) for k in range(3)]
    assert set().union(*shards) == set(places)
    assert sum(len(s) for s in shards) == len(places)
    # every third in source order, from the k-th: lines 2, 2, 5, 5, 9, 9 (columns 1, 4)
    assert shards[0] == {((2, 1), (2, 4), "op", 0), ((5, 4), (5, 7), "op", 0)}
    assert mutation.in_shard(places, None) == set(places)


@pytest.mark.parametrize("text", ["2/2", "-1/2", "0/0", "1", "a/b"])
def test_a_shard_outside_its_range_names_the_flag(mutation, text):
    with pytest.raises(argparse.ArgumentTypeError, match="--shard"):
        mutation._shard(text)


def _record(module, killed, survived, pending, other, exec_s, survivors=()):
    counts = dict(
        killed=killed,
        survived=survived,
        timeout=0,
        incompetent=0,
        skipped=100 - killed - survived - pending - other,  # its own skips
        pending=pending,
        other_shard=other,
    )
    return dict(
        module=module,
        generated=100,
        counts=counts,
        exec_s=exec_s,
        survivors=[dict(where=w, operator="op", change="") for w in survivors],
    )


def test_merged_shards_count_each_mutant_once(mutation):
    # 100 mutants: shard 0 owns 50 (30 killed, 2 survived, 18 skipped), shard 1 owns 50
    # (40 killed, 1 survived, 4 pending, 5 skipped)
    a = _record("m.py", 30, 2, 0, 50, 64.0, ["m.py:12", "m.py:3"])
    b = _record("m.py", 40, 1, 4, 50, 36.0, ["m.py:7"])
    (merged,) = mutation.merge([[a], [b]])
    c = merged["counts"]
    assert (c["killed"], c["survived"], c["pending"], c["other_shard"]) == (70, 3, 4, 0)
    assert c["skipped"] == 18 + 5
    assert merged["seconds_per_mutant"] is None  # unknowable once a campaign was resumed
    assert [s["where"] for s in merged["survivors"]] == ["m.py:3", "m.py:7", "m.py:12"]
    assert "| m.py | 100 | 23 | 4 | 70 | 3 |" in mutation._summary([merged])
    # one shard alone: the other's 50 mutants are not counted as skipped but as still to come
    (alone,) = mutation.merge([[a]])
    assert (alone["counts"]["skipped"], alone["counts"]["other_shard"]) == (18, 50)
    text, _, _ = mutation.report([alone], [])
    assert "| `m.py` | 50 of 100 | 18 | 32 | 30 | 0 | 2 | 0 | 0 | 0 | 93.8% |" in text


def test_groups_of_modules_merge_side_by_side_and_other_sources_are_refused(mutation):
    a, b = _record("a.py", 5, 0, 0, 0, 5.0), _record("b.py", 6, 1, 0, 0, 7.0)
    assert [r["module"] for r in mutation.merge([[a], [b]])] == ["a.py", "b.py"]
    changed = dict(_record("a.py", 5, 0, 0, 0, 5.0), generated=99)
    with pytest.raises(SystemExit, match="different sources"):
        mutation.merge([[a], [changed]])


def _diff(before: str, after: str) -> str:
    return f"--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-{before}\n+{after}\n"


def test_forgetting_leaves_timeouts_or_unexplained_survivors_to_run_again(mutation, tmp_path):
    """cosmic-ray's tables (their schema as of 8.x): a mutant without a result is pending."""
    db = tmp_path / "work.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute(
            "CREATE TABLE work_results (worker_outcome VARCHAR(9), output TEXT, "
            "test_outcome VARCHAR(11), diff TEXT, job_id VARCHAR NOT NULL, PRIMARY KEY (job_id))"
        )
        connection.execute(
            "CREATE TABLE mutation_specs (module_path VARCHAR, operator_name VARCHAR, "
            "operator_args JSON, occurrence INTEGER, start_pos_row INTEGER, "
            "start_pos_col INTEGER, end_pos_row INTEGER, end_pos_col INTEGER, "
            "definition_name VARCHAR, job_id VARCHAR NOT NULL, PRIMARY KEY (job_id))"
        )
        rows = [
            ("NORMAL", "timeout", "KILLED", "", "a"),
            ("NORMAL", "1 failed", "KILLED", "", "b"),
            ("NORMAL", "timeout", "KILLED", "", "c"),
            ("SKIPPED", "annotation", None, "", "d"),
            ("NORMAL", "5 passed", "SURVIVED", _diff("x = a + 1", "x = a | 1"), "e"),
            ("NORMAL", "5 passed", "SURVIVED", _diff("x = a + 1", "x = a - 1"), "f"),
        ]
        connection.executemany("INSERT INTO work_results VALUES (?, ?, ?, ?, ?)", rows)
        specs = [("m.py", "op", None, 0, 3, 4, 3, 9, "f", job) for job in "abcdef"]
        connection.executemany("INSERT INTO mutation_specs VALUES (?,?,?,?,?,?,?,?,?,?)", specs)

    def left():
        with sqlite3.connect(db) as connection:
            return sorted(r[0] for r in connection.execute("SELECT job_id FROM work_results"))

    assert mutation.forget(db, "timeouts") == 2
    assert left() == ["b", "d", "e", "f"]
    assert mutation.forget(db, "timeouts") == 0
    # "e" is shown equivalent: it keeps its result; "f" runs again
    assert mutation.forget(db, "survivors", frozenset({("m.py:3", "x = a | 1")})) == 1
    assert left() == ["b", "d", "e"]
    assert mutation.forget(db, "survivors") == 1
    assert left() == ["b", "d"]


def _survivor(where, mutated):
    return dict(where=where, operator="op", change=f"x = a + 1  ->  {mutated}")


def test_the_report_rates_non_equivalent_mutants_and_names_what_is_unexplained(mutation):
    # m.py: 40 killed + 2 timeouts, 3 survivors of which 2 shown equivalent: 42 / (45 - 2)
    m = _record("m.py", 40, 3, 0, 0, 1.0)
    m["counts"].update(timeout=2, skipped=55)
    m["survivors"] = [
        _survivor("m.py:3", "x = a - 1"),
        _survivor("m.py:3", "x = a | 1"),
        _survivor("m.py:9", "x = a * 1"),
    ]
    n = _record("n.py", 10, 0, 0, 0, 1.0)  # nothing survived: 100%
    verdicts = [
        dict(where="m.py:3", mutant="x = a | 1", reason="a is even."),
        dict(where="m.py:9", mutant="x = a * 1", reason="a is 1."),
        dict(where="m.py:4", mutant="x = a * 1", reason="moved."),
    ]
    text, unexplained, stale = mutation.report([m, n], verdicts)
    assert "| `m.py` | 100 | 55 | 45 | 40 | 2 | 3 | 2 | 0 | 0 | 97.7% |" in text
    assert "| `n.py` | 100 | 90 | 10 | 10 | 0 | 0 | 0 | 0 | 0 | 100.0% |" in text
    assert f"**{52 / 53:.1%}**" in text  # (42 + 10) / (55 - 2)
    assert [s["change"] for s in unexplained] == ["x = a + 1  ->  x = a - 1"]
    assert "`:3` `x = a + 1  ->  x = a - 1`: **not shown equivalent**" in text
    assert "`:3` `x = a + 1  ->  x = a | 1`: equivalent. a is even." in text
    assert stale == [verdicts[2]]


def test_the_report_is_written_between_the_pages_markers_only(mutation, tmp_path):
    page = tmp_path / "page.md"
    start, end = mutation.MARKERS
    page.write_text(f"# Title\n\nbefore\n{start}\nold\n{end}\nafter\n")
    mutation.write_section(page, "new\n")
    assert page.read_text() == f"# Title\n\nbefore\n{start}\nnew\n{end}\nafter\n"
    page.write_text("no markers\n")
    with pytest.raises(SystemExit, match="mutation-results:start"):
        mutation.write_section(page, "new\n")
