"""Write ``docs/bad_inputs.md``: every case of ``tests/bad_input_cases.py`` run, with the message a person sees.

    python scripts/bad_inputs.py

Builds the same small fixture data and tiny artifacts the tests use (a
minute on two cores), runs each case in a fresh folder and writes the table;
``tests/test_bad_inputs.py`` checks every message and that the table lists
every case. Temporary paths are shown as ``<data>``, ``<artifacts>`` and
``<copy>``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "bad_inputs.md"


def module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded  # dataclasses look their module up there
    spec.loader.exec_module(loaded)
    return loaded


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT / "tests"))  # the cases import the tests' helpers, as pytest lets them
    cases = module(ROOT / "tests" / "bad_input_cases.py")
    fixtures = module(ROOT / "tests" / "movielens_fixtures.py")
    from movierec.cli import train

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = fixtures.write_ml1m(tmp / "data" / "ml-1m")
        artifacts = tmp / "artifacts"
        train.main(["--data-dir", str(data), "--no-download", "--model-dir", str(artifacts / "model"),
                    "--encoder-dir", str(artifacts / "data"), "--epochs", "1", "--batch-size", "256", "--quiet",
                    "--hyperparameters", '{"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, '
                    '"attention_dim": 4, "dnn_units": [8]}'])  # fmt: skip
        rows = []
        for number, case in enumerate(cases.CASES, start=1):
            scratch = tmp / f"case-{number}"
            scratch.mkdir()
            message = case.run(cases.Workspace(data, artifacts, scratch))
            if not re.search(case.expected, message):
                raise SystemExit(f"case {number} ({case.where}: {case.input}) said {message!r}")
            for path, label in ((scratch, "<copy>"), (artifacts, "<artifacts>"), (data, "<data>")):
                message = message.replace(str(path), label)
            message = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", message)
            cells = [str(number), case.where, case.input, message]
            rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    OUT.write_text(
        "# Bad inputs and what they get\n\n"
        f"Each row is a case of `tests/bad_input_cases.py` ({len(rows)} cases), run by\n"
        "`python scripts/bad_inputs.py`; "
        "`tests/test_bad_inputs.py` runs the same cases and checks every message. None shows a traceback;\n"
        "the command-line tools print the message as one line on standard error and exit with status 2.\n\n"
        "| # | where | input | message |\n|---|---|---|---|\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {OUT} ({len(rows)} cases)")


if __name__ == "__main__":
    main()
