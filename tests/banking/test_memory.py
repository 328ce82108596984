"""Parsing a big statement keeps memory flat: the parsed entries are cleared as we go."""

import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from app.banking.camt053 import iter_entries
from tests.banking.camt_samples import write_statement

N = 20_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_20000_entries_keep_python_memory_flat(tmp_path):
    path = tmp_path / "big.xml"
    size = write_statement(path, N)
    assert size > 10_000_000
    tracemalloc.start()
    try:
        count = total = 0
        for entry in iter_entries(path, expected_currency="EUR"):
            count += 1
            total += entry.amount
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == N and total > 0
    assert peak < 5_000_000, f"tracemalloc peak {peak / 1e6:.1f} MB"


@pytest.mark.slow
def test_20000_entries_keep_the_process_memory_flat(tmp_path):
    """tracemalloc does not see libxml2's own allocations (the tree): measure the process."""
    path = tmp_path / "big.xml"
    write_statement(path, N)
    script = textwrap.dedent(f"""
        import resource
        from app.banking.camt053 import iter_entries
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        count = sum(1 for _ in iter_entries({str(path)!r}))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(count, (after - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    count, grown_mb = map(int, out.stdout.split())
    assert count == N
    assert grown_mb < 20, f"max RSS grew by {grown_mb} MB"
