"""The table of tried cases (host_tests/CASES.md), gathered from the tests themselves.

A test states what it tries with a marker, per test or per parameter:

    @pytest.mark.case("Content-Length shorter than the body", "ESP_ERR_HTTP_INCOMPLETE_DATA")
    pytest.param(..., marks=pytest.mark.case("cut inside the status line", "ESP_ERR_HTTP_FETCH_HEADER"))

`tools/cases.py` runs the suite and writes CASES.md from the markers and the outcomes;
test_cases_table.py fails when the file no longer matches the markers. Rows are keyed by the
test module, what was tried and the expected result; interpreter parameters merge into one row.
"""

import json
import os

_outcomes = {}  # nodeid -> outcome


def pytest_configure(config):
    config.addinivalue_line("markers", "case(what, expected): one row of host_tests/CASES.md")


def rows_of(items):
    """[(module, what, expected, nodeid)] of every collected item with a case marker."""
    rows = []
    for item in items:
        for mark in item.iter_markers("case"):
            what, expected = mark.args
            rows.append((item.nodeid.split("::")[0].rsplit("/", 1)[-1], what, expected, item.nodeid))
    return rows


def pytest_collection_finish(session):
    path = os.environ.get("CASES_COLLECT")
    if path:
        with open(path, "w") as f:
            json.dump(rows_of(session.items), f)


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        if _outcomes.get(report.nodeid) != "failed":
            _outcomes[report.nodeid] = report.outcome


def pytest_sessionfinish(session):
    path = os.environ.get("CASES_RESULTS")
    if path:
        with open(path, "w") as f:
            json.dump(_outcomes, f)
