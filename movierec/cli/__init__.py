"""The command-line tools, ``train``, ``evaluate``, ``tune`` and ``recommend``, and the options they share.

Each tool is ``movierec.cli.<name>.main(argv)``; it runs as
``python -m movierec.<name>`` (the short modules beside this package) and as
the console script ``movierec-<name>`` that ``pip install`` creates.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from movierec.data import ENV_DATA_DIR, RELEASES
from movierec.models import MODELS


class Parser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one line and exit status 2, like every other error of the tools."""

    def error(self, message: str):
        fail(f"{message} (see {self.prog} --help)")


def positive_int(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def share(text: str) -> float:
    """An argument that must be a share in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value


def json_object(text: str) -> dict:
    """An argument that must be a JSON object, e.g. ``'{"embedding_dim": 32}'``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err.msg} at character {err.pos}): {text!r}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object such as '{{\"embedding_dim\": 32}}', got {text!r}")
    return value


def tool_parser(prog: str, doc: str, artifacts: bool = True) -> Parser:
    """A tool's parser with the options every tool takes: data, model (and artifact folders), --debug."""
    parser = Parser(prog=prog, description=doc.split("\n\n")[0])
    add_data_options(parser)
    add_model_options(parser, artifacts=artifacts)
    add_debug_option(parser)
    return parser


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


def add_training_options(parser: argparse.ArgumentParser, epochs: int, epochs_help: str) -> None:
    """The training options ``train`` and ``tune`` share; the defaults are ``TrainSettings``'."""
    from movierec import training

    defaults = training.TrainSettings()
    parser.add_argument("--epochs", type=positive_int, default=epochs, help=epochs_help)
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--negatives", type=int, default=defaults.negatives, help="sampled unrated movies per rated row (0: none)"
    )
    parser.add_argument("--negative-sampling", choices=training.SAMPLING, default=defaults.negative_sampling)
    parser.add_argument(
        "--strategy", choices=training.STRATEGIES, default="default",
        help="tf.distribute strategy: mirrored (all local devices) or multiworker (machines from TF_CONFIG)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true")


def train_settings(args: argparse.Namespace, **fixed):
    """``TrainSettings`` from every parsed option named like one of its fields, plus ``fixed``.

    A value out of range is a usage error (one line, status 2).
    """
    from movierec import training

    chosen = {name: getattr(args, name) for name in training.TrainSettings.__dataclass_fields__ if hasattr(args, name)}
    try:
        return training.TrainSettings(**{**chosen, **fixed})
    except ValueError as err:
        if getattr(args, "debug", False):
            raise
        fail(f"{err} (see --help)")


def load_release(args: argparse.Namespace):
    """The MovieLens release the data options name (errors are one line through ``one_line_errors``)."""
    from movierec import data

    return data.load(args.dataset, args.data_dir, download=not args.no_download)


def run_tool(parse_args, run, argv=None):
    """Parse ``argv``, then ``run(args)`` with every error as one line (``--debug``: the traceback)."""
    args = parse_args(argv)
    with one_line_errors(args.debug):
        return run(args)


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def fail(message: str, code: int = 2) -> None:
    """Stop with ``error: <message>`` on standard error and exit status ``code``."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


@contextlib.contextmanager
def one_line_errors(debug: bool = False):
    """Any error inside becomes one line on standard error and exit status 2; ``--debug`` shows the traceback.

    The project's own errors already say what is wrong and how to fix it; anything
    else is shown with its type, so a bug is still recognisable without the traceback.
    """
    from movierec.artifacts import ArtifactError
    from movierec.data import MovieLensError
    from movierec.features import EncoderMismatchError
    from movierec.recommend import UnknownMovieError, UnknownUserError

    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        if debug:
            raise
        own = isinstance(
            err, MovieLensError | ArtifactError | EncoderMismatchError | UnknownUserError | UnknownMovieError
        )
        text = " ".join(str(err).split()) or type(err).__name__
        hint = "" if own else " (rerun with --debug for the traceback)"
        fail((text if own else f"{type(err).__name__}: {text}") + hint)
