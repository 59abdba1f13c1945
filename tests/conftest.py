import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from movielens_fixtures import write_ml1m, write_ml100k  # noqa: E402

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
    from movierec import training

    return training.prepare(ml1m)
