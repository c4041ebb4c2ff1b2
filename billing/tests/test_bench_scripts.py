"""The pgbench scripts of `make bench-billing` are generated from billing's own statements
(bench/pgbench.py): a value pasted where the statement negates a parameter (`-%(delta)s`) once
became `--0.01`, a comment that cut the statement in half, and the benchmark failed. Each
script's statements are checked here without running pgbench."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.pgbench import scripts

pytestmark = pytest.mark.django_db


def test_bench_scripts__no_value_turned_into_a_comment(tmp_path: Path) -> None:
    written = scripts(tmp_path)
    assert set(written) >= {"single-spread", "authenticated-spread", "batch-100", "plain-spread"}
    for name, path in written.items():
        text = path.read_text()
        # A "--" glued to a number or a pgbench variable is a negated negative value, not a comment.
        found = re.search(r".*--(\d|:\w).*", text)
        assert found is None, f"{name}: {found.group(0) if found else ''}"
