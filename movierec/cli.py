"""Pieces the command-line tools share: quiet TensorFlow logs, data options, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from movierec.artifacts import atomic_write_text
from movierec.data import ENV_DATA_DIR, RELEASES


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help=f"folder holding the MovieLens files (or their parent); default: ${ENV_DATA_DIR}, then the cache, "
        "then a download from GroupLens",
    )
    parser.add_argument("--dataset", default="ml-1m", choices=sorted(RELEASES), help="MovieLens release")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing data set")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="autointp", choices=["autoint", "autointp"], help="model family")
    parser.add_argument("--model-dir", type=Path, default=None, help="where weights and manifests live (model/)")
    parser.add_argument("--encoder-dir", type=Path, default=None, help="where encoders live (data/)")


def write_json(path: str | Path, payload: dict) -> None:
    atomic_write_text(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)
