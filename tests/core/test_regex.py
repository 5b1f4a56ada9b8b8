"""The regex/iregex lookups: linear time on SQLite, the same answers on both backends."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lamin_core as ln
from lamin_core.instance.regex import check_regex, postgres_pattern

NAMES = [
    "raw/sample_1.fastq.gz",
    "B cell",
    "T-cell",
    "cells",
    "color",
    "colour",
    "multi\nline",
    "café",
    "CELL type",
    "aaa",
    "12",
]

# (pattern in RE2 syntax, the same meaning in Python's re for the expected answer)
PATTERNS = [
    (r"^raw/", r"^raw/"),
    (r"\.fastq\.gz$", r"\.fastq\.gz$"),
    (r"\bcell\b", r"\bcell\b"),
    (r"\Bell", r"\Bell"),
    (r"(?P<stem>sample)_\d+", r"(?P<stem>sample)_\d+"),
    (r"(?<stem>sample)_\d+", r"(?P<stem>sample)_\d+"),
    (r"(?i)CELL", r"(?i)CELL"),
    (r"colou?r", r"colou?r"),
    (r"^[a-z]+$", r"^[a-z]+$"),
    (r"multi.line", r"multi.line"),
    (r"^line", r"^line"),
    (r"caf\x{e9}", r"caf\xe9"),
    (r"[[:digit:]]{2}", r"[0-9]{2}"),
    (r"a{2,3}", r"a{2,3}"),
    (r"e\z", r"e\Z"),
    (r"\Acells", r"\Acells"),
    (r"[^a-z ]", r"[^a-z ]"),
    (r"x*", r"x*"),
]


@pytest.fixture
def labels(instance: ln.Instance) -> list[str]:
    ln.ULabel.from_values(NAMES, create=True).save()
    return NAMES


@pytest.mark.parametrize(("pattern", "python"), PATTERNS, ids=[p for p, _ in PATTERNS])
def test_regex_matches_alike_on_both_backends(labels: list[str], pattern: str, python: str):
    expected = sorted(name for name in labels if re.search(python, name, re.S))
    assert sorted(ln.ULabel.filter(name__regex=pattern).list("name")) == expected
    ignoring_case = sorted(name for name in labels if re.search(python, name, re.S | re.I))
    assert sorted(ln.ULabel.filter(name__iregex=pattern).list("name")) == ignoring_case
    negated = sorted(name for name in labels if name not in expected)
    assert sorted(ln.ULabel.exclude(name__regex=pattern).list("name")) == negated


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(a)\1", "backreference"),
        (r"(?=cell)", "lookahead"),
        (r"(?!cell)", "negative lookahead"),
        (r"(?<=B )cell", "lookbehind"),
        (r"(?<!T-)cell", "negative lookbehind"),
        (r"a++", "possessive"),
        (r"(?>a)", "atomic group"),
        (r"\pL", "Unicode classes"),
        (r"\p{Greek}", "Unicode classes"),
        (r"(?s:.)", "flag groups"),
        (r"a(?i)b", "flag groups"),
        (r"a{300}", "exceeds 255"),
        (r"\Qa.b\E", "not supported"),
        (r"\Z", r"\\Z"),
    ],
)
def test_regex_the_engine_cannot_run_is_refused_naming_the_construct(
    labels: list[str], pattern: str, construct: str
):
    with pytest.raises(ln.errors.ValidationError, match=construct):
        ln.ULabel.filter(name__regex=pattern)  # at filter time: no query is run
    with pytest.raises(ln.errors.ValidationError, match=construct):
        ln.ULabel.filter(name__iregex=pattern)


def test_regex_on_a_feature_is_checked_the_same_way(instance: ln.Instance):
    ln.Feature(name="protocol", dtype="str").save()
    with pytest.raises(ln.errors.ValidationError, match="backreference"):
        ln.Artifact.filter(protocol__regex=r"(x)\1")
    assert ln.Artifact.filter(protocol__regex=r"\bv2\b").count() == 0


def test_catastrophic_regex_does_not_hang_sqlite(tmp_path: Path):
    # Python's re needs ~2**40 steps for this pattern on this key and cannot be interrupted;
    # a linear-time engine answers at once. A subprocess, so that a hang fails the test.
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        import lamin_core as ln
        ln.init(storage=sys.argv[1])
        ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="x" * 40).save()
        print(ln.Artifact.filter(key__regex=r"^(x+x+)+y$").count())
        print(ln.Artifact.filter(key__regex=r"^(x+x+)+$").count())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "catalog")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bcell\b", r"\ycell\y"),
        (r"[\b]", None),  # not a word boundary inside a class; RE2 refuses it
        (r"a\Bb", r"a\Yb"),
        (r"\\b", r"\\b"),  # an escaped backslash followed by b: unchanged
        (r"(?P<x>a)|(?<y>b)", "(a)|(b)"),
        (r"x\z", r"x\Z"),
        (r"\x{1F600}", r"\U0001f600"),
        (r"[(?P<x>]", r"[(?P<x>]"),  # inside a class these are plain characters
    ],
)
def test_postgres_pattern_rewrites_what_postgresql_reads_differently(
    pattern: str, expected: str | None
):
    if expected is None:
        with pytest.raises(ln.errors.ValidationError):
            check_regex(pattern, "name__regex")
        return
    check_regex(pattern, "name__regex")
    assert postgres_pattern(pattern) == expected
