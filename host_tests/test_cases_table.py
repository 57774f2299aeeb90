"""host_tests/CASES.md lists exactly the cases the tests' markers name (run `make cases`)."""

import sys

from interpreters import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import cases  # noqa: E402  (tools/cases.py)


def test_cases_table_is_current():
    rows, _outcomes, code, out = cases.collect(["--collect-only", "-q"])
    assert code == 0, out
    want = list(cases.grouped(rows))
    assert len(want) >= 100  # the markers are there: the suite's cases, not a handful
    have = [line.rsplit(" | ", 1)[0] + " |" for line in cases.TABLE.read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| Tests |")]
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    assert not missing and not extra, "CASES.md is stale: run `make cases`\nmissing:\n%s\nno longer tried:\n%s" % (
        "\n".join(missing[:20]), "\n".join(extra[:20]))
    results = [line.rsplit(" | ", 1)[1] for line in cases.TABLE.read_text().splitlines()
               if line.startswith("| ") and not line.startswith("| Tests |")]
    assert all("FAILED" not in r for r in results), "CASES.md records failures: fix them, then `make cases`"
