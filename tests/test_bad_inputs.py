"""Every bad input of ``bad_input_cases.CASES`` gets its specific message and no traceback, and the table
in ``docs/bad_inputs.md`` (written by ``scripts/bad_inputs.py`` from the same cases) lists them all."""

import re
from pathlib import Path

import pytest
from bad_input_cases import CASES, Workspace

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("case", CASES, ids=[f"{c.where}: {c.input}" for c in CASES])
def test_a_bad_input_gets_its_specific_message(case, ml1m_dir, trained, tmp_path):
    message = case.run(Workspace(ml1m_dir, trained[0], tmp_path))
    assert re.search(case.expected, message), message
    assert "Traceback" not in message


def test_the_cases_cover_data_files_artifacts_the_command_line_and_the_app():
    kinds = {
        "data": {"ratings.dat", "users.dat", "movies.dat", "data folder", "download"},
        "artifacts": {"manifest", "weights", "encoder"},
        "command line": {"CLI train", "CLI evaluate", "CLI tune", "CLI recommend"},
        "app": {"app"},
    }
    assert len(CASES) >= 30
    for kind, places in kinds.items():
        assert any(case.where in places for case in CASES), kind
    assert {case.where for case in CASES} <= set().union(*kinds.values())


def test_the_documented_table_has_every_case():
    table = (ROOT / "docs" / "bad_inputs.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == len(CASES), "rerun: python scripts/bad_inputs.py"
    for row, case in zip(rows, CASES, strict=True):
        assert f"| {case.where} |" in row and case.input.replace("|", "\\|") in row, row
