"""keras-tuner search (local, resumed, distributed over processes) and tf.distribute strategies."""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from movierec import tuning
from movierec.cli import tune

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--epochs", "1", "--batch-size", "256", "--quiet"]


def search(ml1m_dir, directory, trials, *extra):
    return tune.main(["--model", "autointp", "--trials", str(trials), "--data-dir", str(ml1m_dir), "--no-download",
                      "--directory", str(directory), *TINY, *extra])  # fmt: skip


def test_search_space_covers_the_issue_and_defaults_to_the_shipped_model():
    space = {p.name: p for p in tuning.search_space("autointp").space}
    wanted = {"embedding_dim", "attention_layers", "num_heads", "attention_dim", "dnn_units", "dropout",
              "learning_rate", "embeddings_l2"}  # fmt: skip
    assert set(space) == wanted
    assert "dnn_units" not in {p.name for p in tuning.search_space("autoint").space}
    defaults = {name: p.default for name, p in space.items()}
    chosen = tuning.model_hyperparameters("autointp", defaults)
    from movierec.models import DEFAULT_HYPERPARAMETERS

    assert chosen == DEFAULT_HYPERPARAMETERS["autointp"]


def test_search_writes_results_logs_ranking_metrics_and_resumes(ml1m_dir, tmp_path):
    rows = search(ml1m_dir, tmp_path, 2)
    assert [r["status"] for r in rows] == ["COMPLETED", "COMPLETED"]
    for row in rows:
        assert 0 < row["val_auc"] <= 1 and 0 < row["val_seed_ndcg@10"] <= 1
    with open(tmp_path / "autointp" / "results.csv", newline="") as handle:
        saved = list(csv.DictReader(handle))
    assert [float(r["val_auc"]) for r in saved] == pytest.approx([r["val_auc"] for r in rows])
    # Rerun with a larger budget: the two finished trials are kept, one more runs.
    more = search(ml1m_dir, tmp_path, 3)
    assert len(more) == 3 and more[:2] == rows
    log = (tmp_path / "autointp" / "workers.jsonl").read_text().splitlines()
    assert len(log) == 3


def test_same_seed_same_search(ml1m_dir, tmp_path):
    first = search(ml1m_dir, tmp_path / "a", 2)
    second = search(ml1m_dir, tmp_path / "b", 2)
    searched = [name for name in first[0] if name not in ("trial", "status", "epochs")]
    assert [{k: r[k] for k in searched if "val" not in k} for r in first] == [
        {k: r[k] for k in searched if "val" not in k} for r in second
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_search_shares_trials_between_workers(ml1m_dir, tmp_path):
    """One chief (the oracle) and two workers as separate processes on 127.0.0.1."""
    port = free_port()
    args = [sys.executable, "-m", "movierec.tune", "--model", "autoint", "--trials", "4", "--data-dir",
            str(ml1m_dir), "--no-download", "--directory", str(tmp_path), *TINY]  # fmt: skip
    base = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port),
            "PYTHONPATH": str(ROOT)}  # fmt: skip
    processes = {
        tuner_id: subprocess.Popen(
            args,
            cwd=ROOT,
            env={**base, "KERASTUNER_TUNER_ID": tuner_id},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tuner_id in ("chief", "tuner0", "tuner1")
    }
    outputs = {}
    for tuner_id, process in processes.items():
        outputs[tuner_id] = process.communicate(timeout=600)[0]
        assert process.returncode == 0, f"{tuner_id} failed:\n{outputs[tuner_id][-3000:]}"
    project = tmp_path / "autoint"
    runs = [json.loads(line) for line in (project / "workers.jsonl").read_text().splitlines()]
    assert len(runs) == 4
    assert {r["tuner_id"] for r in runs} == {"tuner0", "tuner1"}  # shared out; the chief trains nothing
    with open(project / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and all(r["status"] == "COMPLETED" for r in rows)
    trial_files = [json.loads(p.read_text()) for p in project.glob("trial_*/trial.json")]
    best_on_disk = max(t["score"] for t in trial_files)
    # The chief's results know the best trial, and it is the best any worker reported.
    assert max(float(r["val_auc"]) for r in rows) == pytest.approx(best_on_disk)


def test_train_cli_runs_under_the_mirrored_strategy(ml1m_dir, tmp_path):
    from movierec.cli import train

    tiny = json.dumps({"embedding_dim": 4, "attention_layers": 1, "num_heads": 1, "attention_dim": 4,
                       "dnn_units": [8]})  # fmt: skip
    for strategy in ("default", "mirrored"):
        out = tmp_path / strategy
        train.main(["--model", "autointp", "--data-dir", str(ml1m_dir), "--no-download", "--model-dir", str(out),
                    "--encoder-dir", str(out), "--hyperparameters", tiny, "--strategy", strategy,
                    "--no-full-ranking", *TINY])  # fmt: skip
        manifest = json.loads((out / "autointp.manifest.json").read_text())
        assert manifest["training"]["strategy"] == {"name": strategy, "replicas": 1}


MIRRORED_STEP = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from autointp import AutoIntPlus

    vocab = [7, 5, 3, 4]
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, v, 64) for v in vocab], axis=1).astype("int32")
    y = rng.integers(1, 6, 64).astype("float32")
    options = dict(embedding_dim=4, attention_layers=1, num_heads=1, attention_dim=4, dnn_units=[8], seed=1,
                   ordinal=sys.argv[1] == "ordinal")
    if not options["ordinal"]:
        y = (y >= 4).astype("float32")
    weights = []
    for strategy in (tf.distribute.get_strategy(), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
        with strategy.scope():
            model = AutoIntPlus.built(vocab, **options)
            loss = None if options["ordinal"] else "binary_crossentropy"
            model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
        model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        weights.append([w.numpy() for w in model.weights])
    print(strategy.num_replicas_in_sync, max(float(np.abs(a - b).max()) for a, b in zip(*weights)))
    """
)


@pytest.mark.parametrize("loss", ["ordinal", "binary"])
def test_two_replica_mirrored_step_equals_the_single_device_step(loss):
    """Two CPU replicas each see half the batch; the summed gradients must equal the one-device step.

    Plain SGD, so a loss that is not divided by the replica count (twice the
    step) shows up in the weights.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", MIRRORED_STEP, loss], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    replicas, difference = done.stdout.split()
    assert int(replicas) == 2
    assert float(difference) < 1e-5
