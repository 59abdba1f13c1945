"""The command-line tools, ``train``, ``evaluate`` and ``tune``, and the options they share.

Each tool is ``movierec.cli.<name>.main(argv)``; it runs as
``python -m movierec.<name>`` (the short modules beside this package) and as
the console script ``movierec-<name>`` that ``pip install`` creates.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from movierec.data import ENV_DATA_DIR, RELEASES
from movierec.models import MODELS


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help=f"folder holding the MovieLens files (or their parent); default: ${ENV_DATA_DIR}, then the cache, "
        "then a download from GroupLens",
    )
    parser.add_argument("--dataset", default="ml-1m", choices=sorted(RELEASES), help="MovieLens release")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing data set")


def add_model_options(parser: argparse.ArgumentParser, artifacts: bool = True) -> None:
    parser.add_argument("--model", default="autointp", choices=sorted(MODELS), help="model family")
    if artifacts:
        parser.add_argument("--model-dir", type=Path, default=None, help="where weights and manifests live (model/)")
        parser.add_argument("--encoder-dir", type=Path, default=None, help="where encoders live (data/)")


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
