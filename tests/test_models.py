"""The model families by name and their defaults."""

import pytest

from movierec import models
from movierec.cli import tool_parser


def test_each_family_builds_with_its_defaults_and_overrides():
    vocab = [5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    for name, family in models.MODELS.items():
        model = models.create(name, vocab, seed=0, embedding_dim=4, attention_layers=1, **(
            {"dnn_units": [4]} if name == "autointp" else {}))  # fmt: skip
        assert isinstance(model, family) and model.embedding_dim == 4
        assert model.rated_head == models.DEFAULT_HYPERPARAMETERS[name]["rated_head"]
        assert name in models.TITLES
    with pytest.raises(ValueError, match="unknown model 'deepfm'"):
        models.create("deepfm", vocab)


def test_the_command_line_offers_exactly_the_families():
    parser = tool_parser("test", "doc")
    choices = next(a.choices for a in parser._actions if a.dest == "model")
    assert sorted(choices) == sorted(models.MODELS)
