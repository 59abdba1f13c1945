import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

import pytest
from movielens_fixtures import write_ml1m, write_ml100k

ROOT = Path(__file__).resolve().parent.parent

# Where the real MovieLens copies are; .ci/run sets it, developers have ../shared/data.
REAL_DATA = Path(os.environ.get("MOVIELENS_REAL_DATA", ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    if (REAL_DATA / "ml-1m" / "ratings.dat").is_file():
        return
    skip = pytest.mark.skip(reason=f"real MovieLens data not found at {REAL_DATA}")
    for item in items:
        if "real_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    return REAL_DATA


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Session and module fixtures (a Recommender stores EASE's B in the cache) never write the developer's cache."""
    previous = os.environ.get("MOVIELENS_CACHE")
    os.environ["MOVIELENS_CACHE"] = str(tmp_path_factory.mktemp("session-cache"))
    yield
    if previous is None:
        os.environ.pop("MOVIELENS_CACHE", None)
    else:
        os.environ["MOVIELENS_CACHE"] = previous


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path_factory):
    """No test reads the developer's cache or MOVIELENS_DIR by accident."""
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def ml1m_dir(tmp_path_factory) -> Path:
    return write_ml1m(tmp_path_factory.mktemp("data") / "ml-1m")


@pytest.fixture(scope="session")
def ml100k_dir(tmp_path_factory) -> Path:
    return write_ml100k(tmp_path_factory.mktemp("data") / "ml-100k")


@pytest.fixture(scope="session")
def ml1m(ml1m_dir):
    from movierec import data

    return data.load("ml-1m", ml1m_dir, download=False)


@pytest.fixture(scope="session")
def prepared(ml1m):
    from movierec.prepared import prepare

    return prepare(ml1m)


TINY = json.dumps({"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4, "dnn_units": [8]})


@pytest.fixture(scope="session")
def trained(tmp_path_factory, ml1m_dir):
    """A tiny AutoInt+ trained by the training CLI on the fixture data: (artifact root, its evaluation)."""
    from movierec.cli import train

    root = tmp_path_factory.mktemp("artifacts")
    args = ["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(root / "model"),
            "--encoder-dir", str(root / "data"), "--epochs", "2", "--batch-size", "256", "--hyperparameters", TINY,
            "--quiet"]  # fmt: skip
    result = train.main(args)
    return root, result
