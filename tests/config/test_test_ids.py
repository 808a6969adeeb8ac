"""Every test of the suite has an id of its own.

`make test` hands the suite to pytest-xdist's workers, which know tests by id: with `--dist
loadfile`, tests sharing an id run once, and nothing says so. pytest 9.2 gave schemathesis' 24
operation tests one id (tests/api/test_schemathesis.py): 1 of them ran in parallel runs. Hence
`pytest<9.2` in pyproject.toml, until schemathesis names its tests as pytest 9.2 expects.
"""

import subprocess
import sys
from collections import Counter

from tests.live_server import ROOT


def test_every_test_of_the_suite_has_an_id_of_its_own():
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    ids = Counter(line for line in collected.stdout.splitlines() if "::" in line)
    assert len(ids) > 2000  # the whole suite was collected
    assert [test_id for test_id, count in ids.items() if count > 1] == []
