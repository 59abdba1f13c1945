"""Evaluate AutoInt / AutoInt+ against the baselines under one of the evaluation protocols.

    python -m movierec.evaluate --model autointp --data-dir ../shared/data --out results.json
    python -m movierec.evaluate --protocol paper --data-dir ../shared/data --out results/paper.json

Prints a table and writes JSON whose top level holds the model's ``auc``,
``logloss``, ``seed_ndcg@10``, ``seed_hr@10`` and, for ranking protocols,
``full_ndcg@10`` and ``full_hit@10`` (and ``full_sample_...``, below), with
the same metrics for the ``popularity``, ``movie_mean``, ``item_knn``,
``ease`` and ``ease_graded`` baselines under ``baselines`` (no log loss: they give no
probabilities), plus the protocol's exact
settings. ``seed`` and ``full`` evaluate the shipped artifacts; ``temporal``,
``paper`` and ``recbole`` first train the shipped configuration on their own
split (see ``movierec.protocols``).

``newuser`` trains the shipped configuration on the known people, with and
without a history (the shipped one's, else ``HISTORY_LENGTH`` movies,
mean-pooled), with the history but no prior and ``newuser.NEWCOMER_SHARE``
of its rows (``--newcomer-share``) trained as a newcomer's (``newcomer``)
and, for a stacked model, without its EASE prior; ranks with the shipped
ranking rule; chooses a stacked model's ``prior_profile_power`` under it on
the validation people; and writes
``{"reveal": {"5": {"model": {...}, "baselines": {"popularity", "ease",
"ease_graded", "no_history", ...}}, "10": ..., "20": ...}, "settings": ...}``, where
``settings.validation_people`` holds the same table on the validation people
(``movierec.newuser``), and ``settings.newcomer_network`` which trained
network serves newcomers best there. ``--save-networks DIR`` keeps every
network it trains; ``--reuse-networks FILE`` loads, instead of training
again, the saved networks of an earlier run that were trained exactly as
this run would train them (training is seeded and reproducible);
``--networks NAMES`` trains and measures only those networks (a partial
run, for an experiment such as ``--newcomer-history RULE`` or
``--newcomer-share S``, the rows the newcomer network trains on): it
chooses nothing, so its file has
``settings.partial`` instead of ``settings.newcomer_network``, and a
``model`` entry per K only if that network was named;
``--apply-newuser-choice`` then serves the chosen power
and, if another network won, copies it beside the shipped set
(``artifacts.newcomer_folders``), where the app and ``movierec.recommend``
use it for new people.

Every full ranking also gives its numbers over a fixed eighth of the people
(``full_sample_...``: user ids that are multiples of 8), which training
records in the manifest and the real-data checks re-rank at an eighth of the
cost; ``--record-sample`` adds them to a set saved before, once everyone's
numbers have come out as its manifest records them.

``--refresh-baselines FILE`` measures the baselines of an earlier run of
``--protocol`` again on its own split (rebuilt from the same data, its rows
checked) and writes them into the file, leaving the model's numbers: for a
baseline that changed after the run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from movierec import cli
from movierec.files import recorded_location, recorded_path


def parse_args(argv=None) -> argparse.Namespace:
    from movierec.pipeline import NEWCOMER_HISTORIES
    from movierec.protocols import PROTOCOLS

    parser = cli.tool_parser("python -m movierec.evaluate", __doc__)
    parser.add_argument(
        "--protocol",
        choices=list(PROTOCOLS),
        default="full",
        help="seed/full: the shipped model on the project split (full also reports seed); temporal, paper, "
        "recbole: train the shipped configuration on that protocol's split, then evaluate (see movierec.protocols)",
    )
    parser.add_argument(
        "--epochs", type=cli.positive_int, default=None,
        help="temporal/paper/recbole/newuser: cap the training epochs (default: as shipped)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--no-full-ranking", action="store_true", help="skip the full-ranking protocol")
    parser.add_argument(
        "--allow-other-data", action="store_true", help="evaluate even if the data differs from the training data"
    )
    parser.add_argument(
        "--apply-newuser-choice", type=Path, default=None, metavar="NEWUSER_JSON",
        help="serve the shipped model with the newcomer rescaling chosen on the new-user protocol's validation "
        "people (the file `--protocol newuser --out` wrote; it must have ranked by the shipped ranking rule) and "
        "record it in its manifest; if the run chose another network for newcomers, serve them with it (saved by "
        "--save-networks); evaluates nothing",
    )  # fmt: skip
    parser.add_argument(
        "--choose-ranking-rule", action="store_true",
        help="fit the shipped configuration on the training part, choose its ranking rule on validation, serve "
        "the shipped model with it and test it once, recording both in its manifest (a newcomer rescaling "
        "chosen under another rule is withdrawn)",
    )
    parser.add_argument(
        "--train-only-fit", type=Path, default=None, metavar="DIR",
        help="--choose-ranking-rule: reuse this fit of the shipped configuration on the training part "
        "(DIR/model and DIR/data, as saved without a refit) instead of fitting one",
    )  # fmt: skip
    parser.add_argument(
        "--record-sample", action="store_true",
        help="re-rank the catalogue for every test user with the shipped model and, if its numbers reproduce the "
        "manifest's, record those of the sample people (user id a multiple of 8) in it, which the real-data "
        "checks re-rank instead of everyone; for a set saved before the sample was recorded",
    )  # fmt: skip
    parser.add_argument(
        "--save-networks", type=Path, default=None, metavar="DIR",
        help="newuser: save every network the protocol trains as a set in DIR/<name> (weights, encoder, manifest), "
        "so that the one chosen for newcomers can be served (--apply-newuser-choice)",
    )  # fmt: skip
    parser.add_argument(
        "--refresh-baselines", type=Path, default=None, metavar="RESULTS_JSON",
        help="measure the baselines again on the split of an earlier run of this --protocol (the file its --out "
        "wrote, on the same data) and write them into it (or into --out), leaving the model's numbers as they "
        "were (nothing the model trains or ranks with reads a baseline); trains nothing",
    )  # fmt: skip
    parser.add_argument(
        "--reuse-networks", type=Path, default=None, metavar="RESULTS_JSON",
        help="with --protocol newuser: load, instead of training again, every network an earlier run (the file its "
        "--out wrote, on the same data, with --save-networks) trained exactly as this one would",
    )  # fmt: skip
    parser.add_argument(
        "--networks", default=None, metavar="NAMES",
        help="with --protocol newuser: train and measure only these of its networks (comma-separated: "
        "model, no_prior, newcomer, no_history), beside the baselines on the same people; such a partial run "
        "chooses no network for newcomers, and --apply-newuser-choice refuses it (naming every network is a "
        "whole run)",
    )  # fmt: skip
    parser.add_argument(
        "--newcomer-history", default=None, choices=NEWCOMER_HISTORIES,
        help="with --protocol newuser: which movies the rows of the network trained for newcomers keep "
        "(TrainSettings.newcomer_history; by default oldest_kept: a rule a model without newcomer rows recorded "
        "shaped nothing and is ignored)",
    )  # fmt: skip
    parser.add_argument(
        "--newcomer-share", type=cli.share, default=None, metavar="SHARE",
        help="with --protocol newuser: the share of rated rows the network trained for newcomers trains as "
        "newcomers (TrainSettings.newcomer_share; by default newuser.NEWCOMER_SHARE, 0.8)",
    )  # fmt: skip
    parser.add_argument(
        "--teachers", default=None, metavar="NAME=DIR,...",
        help="with --protocol newuser, for a distilled model (its manifest's distillation_weight > 0): the set each "
        "network learns to match (movierec.distillation), saved by --save-networks from a run on the same split "
        "with the same variant; a network given none learns from its labels alone, and the record says so",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    return cli.run_tool(parse_args, run, argv)


def run(args: argparse.Namespace) -> dict:
    """Evaluate the shipped artifacts, or train and evaluate under another protocol."""
    from movierec import artifacts, evaluation, experiment, protocols
    from movierec.files import write_json
    from movierec.prepared import prepare

    protocol = protocols.PROTOCOLS[args.protocol]
    writers = {"--apply-newuser-choice": args.apply_newuser_choice is not None,
               "--choose-ranking-rule": args.choose_ranking_rule, "--record-sample": args.record_sample}  # fmt: skip
    for option, given in writers.items():
        if given and (args.protocol != "full" or args.out is not None or args.epochs is not None
                      or args.no_full_ranking):  # fmt: skip
            cli.fail(f"{option} only writes into the shipped manifest: give it without "
                     "--protocol, --out, --epochs or --no-full-ranking")  # fmt: skip
    if sum(writers.values()) > 1:
        cli.fail(f"give {' and '.join(o for o, given in writers.items() if given)} one at a time")
    if args.refresh_baselines is not None and args.protocol == "newuser":
        cli.fail("--refresh-baselines: the new-user protocol measures its baselines per K beside the networks it "
                 "trains; run it again instead")  # fmt: skip
    if args.refresh_baselines is not None and (any(writers.values()) or args.epochs is not None
                                               or args.no_full_ranking or args.save_networks is not None
                                               or args.allow_other_data):  # fmt: skip
        cli.fail("--refresh-baselines measures baselines only: give it with --protocol (and --out) alone")
    if args.out is not None and args.out.is_dir():
        cli.fail(f"--out {args.out} is a folder: give the file to write the results to")
    if args.train_only_fit is not None and not args.choose_ranking_rule:
        cli.fail("--train-only-fit goes with --choose-ranking-rule")
    for option in ("reuse_networks", "networks", "newcomer_history", "newcomer_share", "teachers"):
        if getattr(args, option) is not None and args.protocol != "newuser":
            cli.fail(f"--{option.replace('_', '-')} goes with --protocol newuser")
    if args.save_networks is not None and (args.protocol != "newuser" or args.out is None):
        cli.fail("--save-networks goes with --protocol newuser and --out (the file that records what it saved)")
    try:
        model, encoder, manifest = artifacts.load(args.model, args.model_dir, args.encoder_dir)
    except artifacts.ArtifactError as err:
        cli.fail(f"{err}; retrain with: python -m movierec.train --model {args.model} --data-dir DIR")
    if args.save_networks is not None:  # a network saved over the shipped set would replace it
        from movierec.newuser import NETWORKS

        shipped = {p.resolve() for p in (*artifacts.default_folders(), *artifacts.set_folders(args.model_dir,
                                                                                               args.encoder_dir))}
        clash = [args.save_networks / n for n in NETWORKS if (args.save_networks / n).resolve() in shipped]
        if clash:
            cli.fail(f"--save-networks {args.save_networks} would save a network into {clash[0]}, where the shipped "
                     "artifacts are; give a folder of its own")
    asked = partial_networks(args, manifest) if protocol.name == "newuser" else None  # checked before any work
    release = cli.load_release(args)
    if args.refresh_baselines is not None:
        return refresh_baselines(args, protocol, release, encoder)
    if protocol.name == "newuser":
        return run_new_users(args, protocol, release, model, manifest, asked)
    if args.apply_newuser_choice is not None:
        return apply_newuser_choice(args, release, model, manifest)
    if args.choose_ranking_rule:
        return choose_ranking_rule(args, release, model, encoder, manifest)
    if args.record_sample:
        return record_sample(args, release, model, encoder, manifest)
    trained = None
    if protocol.trains:
        split = protocol.make_split(release.ratings)
        prepared = prepare(release, split=split, fields=protocol.fields)
        if distillation_weight(manifest):  # no teacher exists for this protocol's split
            print(f"the shipped {args.model} was distilled from a wider teacher; --protocol {protocol.name} trains its "
                  "configuration from its labels alone, so these numbers are not the distilled set's")  # fmt: skip
        model, settings, history = protocols.train_for_protocol(
            protocol, prepared, manifest, verbose=0 if args.quiet else 2, epochs=args.epochs
        )
        # A ranking protocol chooses the ranking rule on its own validation part, as a training run does.
        full = protocol.full_ranking and not args.no_full_ranking
        ranking, _ = experiment.choose_ranking_rule(model, prepared, not args.quiet) if full else (None, None)
        trained = {"config": model.get_config(), "settings": settings.to_dict(), "history": history,
                   "ranking": ranking}  # fmt: skip
    else:
        trained_on = manifest.get("data", {}).get("fingerprint")
        if trained_on != release.fingerprint() and not args.allow_other_data:
            cli.fail(
                f"the data in {release.path} is not the data {args.model} was trained on (fingerprint differs), "
                "so its test split would overlap the training rows; pass --allow-other-data to evaluate anyway"
            )
        prepared = prepare(release, encoder=encoder)
    full = protocol.full_ranking and not args.no_full_ranking
    result = evaluation.evaluate_model(model, prepared, full=full, progress=not args.quiet)
    reference = evaluation.evaluate_baselines(prepared, full=full)
    print(f"protocol {protocol.name}: {protocol.summary}")
    print(evaluation.table({args.model: result, **reference}))
    timing = f"evaluated in {result['seconds']:.1f} s"
    if "full_seconds" in result:
        timing += f" (full ranking of {result['full_users']:,} users: {result['full_seconds']:.1f} s)"
    print(f"{timing}; {len(prepared.split.test):,} test rows")
    for source, numbers in protocol.published.items():
        print(f"published {source}: " + ", ".join(f"{k} {v:.4f}" for k, v in numbers.items()))
    split = prepared.split
    payload = {
        "model": args.model,
        "protocol": protocol.describe(),
        **result,
        "baselines": reference,
        "data": {
            "release": release.name,
            "fingerprint": release.fingerprint(),
            "rows": split.rows(),
        },
        "trained": trained,
        "definitions": {
            "seed": "rank each test user's own test rows; HR=hits/relevant; IDCG over all relevant (uncapped)",
            "full": "rank every catalogue movie the user has not rated in train+validation; IDCG capped at 10",
        },
    }
    if args.out:
        write_json(args.out, payload)
        print(f"wrote {args.out}")
    return payload


def refresh_baselines(args: argparse.Namespace, protocol, release, encoder) -> dict:
    """The baselines of an earlier run of ``protocol`` measured again on its split, written into its results.

    For a baseline that changed after the run (a wider grid, say): the split
    is rebuilt from the same data by the same seeded rule and must have the
    recorded rows, and the model's numbers stay as they were, because
    nothing the model was trained or ranked with reads a baseline.
    """
    from movierec import evaluation
    from movierec.files import write_json
    from movierec.prepared import prepare

    path = args.refresh_baselines
    try:
        written = json.loads(path.read_text())
        run_protocol, fingerprint, rows = written["protocol"], written["data"]["fingerprint"], written["data"]["rows"]
        name, before = run_protocol["name"], written["baselines"]
        if not all(isinstance(numbers, dict) for numbers in before.values()):
            raise TypeError("its baselines are not a table of numbers per baseline")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        cli.fail(f"{path} holds no protocol run ({type(err).__name__}: {err}); write one with "
                 f"python -m movierec.evaluate --protocol {protocol.name} --data-dir DIR --out FILE")  # fmt: skip
    if name != protocol.name:
        cli.fail(f"{path} is a run of the {name} protocol, not {protocol.name}: give --protocol {name}")
    rules = protocol.describe()
    changed = [rule for rule in ("split", "dropped_ratings", "label", "fields")  # what makes the split and labels
               if run_protocol.get(rule) != rules[rule]]  # fmt: skip
    if changed:
        cli.fail(f"{path} was run under other {protocol.name} rules ({', '.join(changed)} differ): run it again")
    if fingerprint != release.fingerprint():
        cli.fail(f"{path} was measured on other data than {release.path} holds (fingerprint differs)")
    if protocol.trains:
        prepared = prepare(release, split=protocol.make_split(release.ratings), fields=protocol.fields)
    else:
        prepared = prepare(release, encoder=encoder)
    if prepared.split.rows() != rows:
        cli.fail(f"the {protocol.name} split has {prepared.split.rows()} rows, not the {rows} {path} records")
    written["baselines"] = evaluation.evaluate_baselines(prepared, full="full_ndcg@10" in written)
    written["baselines_refreshed"] = ("the baselines were measured again after the run (evaluate "
                                      "--refresh-baselines), on its split rebuilt from the same data; the model's "
                                      "numbers are the run's")  # fmt: skip
    if not args.quiet:
        print(f"protocol {protocol.name}: baselines measured again on the split of {path}; before:")
        print(evaluation.table(before))
        print("now:")
        print(evaluation.table(written["baselines"]))
    out = args.out or path
    write_json(out, written)
    print(f"wrote {out}")
    return written


# Training settings a choice made with one fit carries over to another fit under (epochs aside: a protocol caps them).
SAME_TRAINING = ("batch_size", "learning_rate", "negatives", "negative_sampling", "hard_negative_share", "oov_rate",
                 "seed", "newcomer_share", "newcomer_history")
# What a manifest written before a hyperparameter existed was trained with.
BEFORE_HYPERPARAMETER = {"ease_disliked_weight": 1.0}


def configuration_differences(shipped: dict, other_hyperparameters: dict, other_training: dict, same=SAME_TRAINING):
    """Hyperparameters and training settings (``same``) in which another fit differs from the shipped ``manifest``."""
    from movierec import artifacts

    trained = shipped.get("training", {})
    differ = differing(artifacts.hyperparameters(shipped), other_hyperparameters, BEFORE_HYPERPARAMETER)
    return differ + differing_settings(trained, other_training, same)


def differing_settings(mine: dict, theirs: dict, keys) -> list[str]:
    """The training settings (``keys``) two records differ in, as they shaped the training: a setting missing from
    a record as what was used before it was recorded, which movies newcomer rows keep only if there were any."""
    from movierec.training import as_recorded_then

    return differing(as_recorded_then(mine), as_recorded_then(theirs), {}, keys=keys)


def differing(mine: dict, theirs: dict, before: dict, keys=None) -> list[str]:
    """The keys (``keys``, else every key of either) whose values differ, a missing key counting as its value in
    ``before`` (what was used before the key was recorded), in ``keys``' order or sorted."""
    keys = sorted({*mine, *theirs}) if keys is None else keys
    return [k for k in keys if mine.get(k, before.get(k)) != theirs.get(k, before.get(k))]


def apply_newuser_choice(args: argparse.Namespace, release, model, manifest: dict) -> dict:
    """Serve newcomers as a new-user run chose: the prior rescaling, and the network if not the shipped one.

    The power goes into the shipped model's config (it rescales the prior of
    a newcomer the shipped network serves); a network the run chose instead
    is saved as a newcomer set beside the shipped one
    (``install_newcomer_network``); the manifest records both. Nothing is
    evaluated: both change newcomers' scores only, and the project split has
    none, so the manifest's numbers stand.
    """
    import math

    from movierec import artifacts, newuser
    from movierec.scoring import RANKING_OPTIONS, ranking_rule

    path = args.apply_newuser_choice
    try:
        written = json.loads(path.read_text())
        settings = written["settings"]
        if "partial" in settings:
            cli.fail(f"{path} is a partial new-user run (made with --networks): it chose nothing to apply")
        choice = settings["newcomers"]["model"]
        power = float(choice["prior_profile_power"])
        reference = choice.get("prior_profile_reference")
        reference = None if reference is None else float(reference)
        trained = settings["trained"]["model"]
        overrides, fingerprint = dict(trained["overrides"]), settings["data"]["fingerprint"]
        chosen_for = dict(trained.get("hyperparameters") or {})
        training = dict(trained["settings"])
        chosen_under = recorded_rule(trained)
    except (OSError, ValueError, KeyError, TypeError) as err:
        cli.fail(f"{path} holds no new-user choice ({type(err).__name__}: {err}); write one with "
                 "python -m movierec.evaluate --protocol newuser --data-dir DIR --out FILE")  # fmt: skip
    if written.get("model") != args.model:
        cli.fail(f"{path} chose for {written.get('model')!r}, not {args.model!r}")
    if not math.isfinite(power) or power not in newuser.PROFILE_POWERS:
        cli.fail(f"{path}: prior_profile_power {power} is not one of the powers chosen from {newuser.PROFILE_POWERS}")
    if not manifest["config"].get("ease_l2"):
        cli.fail(f"the shipped {args.model} reads no EASE prior, so there is nothing to rescale")
    trained_on = manifest.get("data", {}).get("fingerprint")
    if fingerprint != trained_on or release.fingerprint() != trained_on:
        cli.fail(f"{path} was measured on other data than the shipped {args.model} was trained on")
    shipped = artifacts.hyperparameters(manifest)
    chosen_for = chosen_for or {**shipped, **overrides}  # files written before the full configuration was recorded
    differ = configuration_differences(manifest, chosen_for, training)  # training settings too
    if differ:
        cli.fail(f"{path} chose for another configuration than the shipped {args.model}'s (differs in {differ})")
    served = ranking_rule(model)
    if chosen_under != served:
        under, shipped_rule = (dict(zip(RANKING_OPTIONS, rule, strict=True)) for rule in (chosen_under, served))
        cli.fail(f"{path} chose the rescaling under the ranking rule {under}, but the shipped {args.model} ranks by "
                 f"{shipped_rule}; rerun --protocol newuser")  # fmt: skip
    recomputed = newuser.training_median(release)
    if reference is None:  # a file written before the reference was recorded: the protocol's training median
        reference = recomputed
    elif not (math.isfinite(reference) and reference > 0):
        cli.fail(f"{path}: prior_profile_reference {reference} is not a positive number of ratings")
    config = {"prior_profile_power": power, "prior_profile_reference": float(reference)}
    network = install_newcomer_network(args, path, settings, manifest, served)
    note = {**config, "chosen_on": "the new-user protocol's validation people", "source": path.name,
            "reference": "recorded in the file" if "prior_profile_reference" in choice else
            "the protocol's training median, recomputed", "training_median": recomputed,
            "validation_ndcg@10": choice.get("validation_ndcg@10"),
            "ranking": dict(zip(RANKING_OPTIONS, served, strict=True)),
            **({"network": network} if network else {})}  # fmt: skip
    try:
        written = artifacts.update_manifest(
            args.model, args.model_dir, config=config, expect_weights=manifest["weights"]["sha256"],
            serving={**manifest.get("serving", {}), "newcomers": note},
        )  # fmt: skip
    except (ValueError, artifacts.ArtifactError) as err:
        artifacts.prune_newcomer_sets(args.model_dir)  # the new set, never named
        cli.fail(str(err))
    artifacts.prune_newcomer_sets(args.model_dir)  # the sets no manifest names any more
    if network:
        print(f"{args.model}'s newcomers are now served by the {network['variant']!r} network the run chose on its "
              f"validation people (mean NDCG@10 {network['validation_mean_ndcg@10'][network['variant']]:.4f}), "
              f"saved in {written.parent / network['folder']}; recorded in {written}")  # fmt: skip
    else:
        print(f"{args.model}'s newcomers are served by the shipped network, which rescales their EASE prior with "
              f"power {power:g} towards {float(reference):g} ratings; recorded in {written}")  # fmt: skip
    return {"model": args.model, **config}


def install_newcomer_network(args: argparse.Namespace, path: Path, settings: dict, manifest: dict,
                             served: tuple[float, ...]) -> dict | None:  # fmt: skip
    """Save the network a new-user run chose for newcomers as a newcomer set; None if the shipped kind won.

    A file written before the choice was recorded leaves newcomers with the
    shipped network. The saved network must be the one the run measured (its
    weights' checksum), on the shipped model's data, ranking by the shipped
    rule; anything else is refused before a file is written. The new set
    lies in a folder of its own (``artifacts.save_newcomer_set``): it serves
    only once the shipped manifest names it, so a failure after this leaves
    the set in service untouched.
    """
    from movierec import artifacts, newuser
    from movierec.scoring import ranking_rule

    if "newcomer_network" not in settings:
        return None
    try:
        choice = settings["newcomer_network"]
        chosen, means = str(choice["network"]), {str(k): float(v) for k, v in choice["validation_mean_ndcg@10"].items()}
        if chosen not in newuser.MAY_SERVE_NEWCOMERS:
            raise ValueError(f"{chosen!r} may not serve newcomers (only {list(newuser.MAY_SERVE_NEWCOMERS)} read "
                             "their ratings)")  # fmt: skip
        if chosen not in means:
            raise KeyError(f"no validation mean for the chosen {chosen!r}")
        best = max(means[n] for n in newuser.MAY_SERVE_NEWCOMERS if n in means)
        if means[chosen] != best:
            raise ValueError(f"{chosen!r} has not the best validation mean of the networks that may serve newcomers")
        saved = settings["trained"][chosen].get("saved") if chosen != "model" else None
        folder = None if saved is None else recorded_location(saved["folder"])
        expected = None if saved is None else str(saved["weights_sha256"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        cli.fail(f"{path} records its choice of a network for newcomers badly ({type(err).__name__}: {err})")
    if chosen == "model":
        return None
    if folder is None:
        cli.fail(f"{path} chose the {chosen!r} network for newcomers but did not save it; rerun "
                 "--protocol newuser with --save-networks DIR")  # fmt: skip
    try:
        model, encoder, theirs = artifacts.load(args.model, folder, folder)
    except artifacts.ArtifactError as err:
        cli.fail(f"the {chosen!r} network {path} chose for newcomers cannot be loaded: {err}")
    if theirs["weights"]["sha256"] != expected:
        cli.fail(f"{folder} holds other weights than the {chosen!r} network {path} measured")
    if theirs.get("data", {}).get("fingerprint") != manifest.get("data", {}).get("fingerprint"):
        cli.fail(f"the {chosen!r} network in {folder} was trained on other data than the shipped {args.model}")
    if ranking_rule(model) != served:
        cli.fail(f"the {chosen!r} network in {folder} ranks by another rule than the shipped {args.model}")
    record = artifacts.save_newcomer_set(
        model, encoder, args.model, args.model_dir, data=theirs["data"], training=theirs.get("training", {}),
        serving={"serves": "newcomers", "variant": chosen, "source": path.name},
    )  # fmt: skip
    return {"variant": chosen, **record,
            "chosen_by": "mean NDCG@10 over K on the new-user protocol's validation people",
            "validation_mean_ndcg@10": means,
            "trained_on": "the new-user protocol's training part (its test and validation people held out whole)"}


def recorded_rule(trained: dict) -> tuple[float, ...]:
    """The ranking rule a new-user run's network ranked by, as recorded with it (``RANKING_OPTIONS`` order).

    A record without one predates it: those runs ranked by the plain product (1, 1). A rule that is not a
    mapping of both options to numbers raises ``ValueError`` (``TypeError`` if the record itself is no mapping).
    """
    from movierec.scoring import RANKING_OPTIONS

    if "ranking" not in trained:
        return (1.0,) * len(RANKING_OPTIONS)
    rule = trained["ranking"]
    if not isinstance(rule, dict) or set(rule) != set(RANKING_OPTIONS):
        raise ValueError(f"its ranking record {rule!r} does not give exactly {list(RANKING_OPTIONS)}")
    return tuple(float(rule[option]) for option in RANKING_OPTIONS)


def choose_ranking_rule(args: argparse.Namespace, release, model, encoder, manifest: dict) -> dict:
    """Choose the shipped model's ranking rule on validation, with a fit of its configuration on train alone.

    The shipped weights were refitted on train + validation, so validation
    cannot judge them; a fit of the same configuration and settings on the
    training part alone (``--train-only-fit``, or one made here) chooses the
    rule (``movierec.experiment.choose_ranking_rule``), as ``movierec.train``
    does before its refit. The shipped model is then tested once under that
    rule, and its manifest records the rule, every rule's validation numbers
    and the new test numbers, in one atomic write.
    """
    import dataclasses

    from movierec import artifacts, evaluation, experiment, training
    from movierec.prepared import prepare
    from movierec.scoring import PRODUCT_RULE, RANKING_OPTIONS, ranking_rule, set_ranking_rule

    trained_on = manifest.get("data", {}).get("fingerprint")
    if release.fingerprint() != trained_on:
        cli.fail(f"the data in {release.path} is not the data {args.model} was trained on (fingerprint differs)")
    shipped, shipped_training = artifacts.hyperparameters(manifest), manifest.get("training")
    if len(evaluation.ranking_rules(model)) < 2:
        cli.fail(f"the shipped {args.model} has one output and no prior: it has no ranking rule to choose")
    if not isinstance(shipped_training, dict) or not shipped_training:
        cli.fail(f"the shipped {args.model}'s manifest records no training settings to fit its configuration with")
    newcomers = manifest.get("serving", {}).get("newcomers") or {}
    try:  # read before any work: a newcomer rescaling chosen under another rule is withdrawn below
        newcomer_rule = recorded_rule(newcomers)
    except (ValueError, TypeError) as err:
        cli.fail(f"the shipped {args.model}'s manifest records its newcomer rescaling's rule badly ({err})")
    if args.train_only_fit is None and distillation_weight(manifest):
        cli.fail(f"the shipped {args.model} was distilled, and a fit made here would learn from its labels alone: "
                 "give its own train-only fit with --train-only-fit DIR")  # fmt: skip
    if args.train_only_fit is None:
        prepared = prepare(release)
        settings = dataclasses.replace(training.TrainSettings.from_dict(shipped_training), refit=False)
        candidate = experiment.fit_candidate(args.model, prepared, settings, shipped, verbose=0 if args.quiet else 2)
        ranking, fit_validation = candidate.ranking, candidate.validation
        fit = {"made here": True, "training": candidate.settings.to_dict()}
    else:
        fitted, prepared, fit = reused_train_only_fit(args, release, manifest)
        ranking, ranked = experiment.choose_ranking_rule(fitted, prepared, progress=not args.quiet)
        fit_validation = evaluation.evaluate_model(fitted, prepared, part="validation", progress=not args.quiet,
                                                   ranked=ranked)  # fmt: skip
    chosen = (ranking["like_exponent"], ranking["prior_gain"])
    rule = dict(zip(RANKING_OPTIONS, chosen, strict=True))
    served_before = list(ranking_rule(model))  # the rule the manifest's evaluation was measured under
    set_ranking_rule(model, chosen)
    tested = evaluation.evaluate_model(model, prepare(release, encoder=encoder), progress=not args.quiet)
    earlier = manifest.get("serving", {}).get("ranking") or {}
    # The first test numbers stay recorded however often a rule is chosen again, with the rule they were
    # measured under (the plain product for a set saved before rules; a training run's own choice otherwise).
    if "evaluation_before" in earlier:
        before, before_rule = earlier["evaluation_before"], earlier.get("evaluation_before_rule", list(PRODUCT_RULE))
    else:
        before, before_rule = manifest.get("evaluation"), served_before
    note = {**ranking, "chosen_with": "a fit of the shipped configuration on the training part alone", "fit": fit,
            "fit_validation": fit_validation, "evaluation_before": before,
            "evaluation_before_rule": before_rule}  # fmt: skip
    config, serving = dict(rule), {**manifest.get("serving", {}), "ranking": note}
    # A newcomer rescaling was chosen under the rule it was measured with; under another rule it is unmeasured.
    power = manifest["config"].get("prior_profile_power", 0.0)
    if (power or newcomers.get("network")) and newcomer_rule != tuple(rule.values()):
        config["prior_profile_power"] = 0.0
        what = f"power {power:g}" + (" and the newcomer network were" if newcomers.get("network") else " was")
        serving["newcomers"] = {"withdrawn": f"{what} chosen under the ranking rule "
                                f"{list(newcomer_rule)}, not {list(rule.values())}; rerun --protocol "
                                "newuser, then --apply-newuser-choice", "previous": newcomers}  # fmt: skip
        print("the newcomers' serving (its prior power and any network of their own) was chosen under another "
              "ranking rule: withdrawn")
    try:
        written = artifacts.update_manifest(
            args.model, args.model_dir, config=config, expect_weights=manifest["weights"]["sha256"],
            serving=serving, evaluation=tested,
        )  # fmt: skip
    except (ValueError, artifacts.ArtifactError) as err:
        cli.fail(str(err))
    artifacts.prune_newcomer_sets(args.model_dir)  # a withdrawn newcomer network's set
    for name, numbers in ranking["validation"].items():
        print(f"validation {name}: full NDCG@10 {numbers['full_ndcg@10']:.4f}, Hit@10 {numbers['full_hit@10']:.4f}")
    print(f"chosen: P(rated) x P(like) ** {ranking['like_exponent']:g}, prior x {ranking['prior_gain']:g}")
    print(evaluation.table({f"{args.model} (test)": tested}))
    print(f"recorded in {written}")
    return {"model": args.model, **rule, "evaluation": tested}


def record_sample(args: argparse.Namespace, release, model, encoder, manifest: dict) -> dict:
    """Record the sample people's full ranking (``evaluation.SAMPLE_EVERY``) in a manifest saved without it.

    The shipped model is evaluated anew, everyone's full ranking included;
    only if every number the manifest records comes out again (within
    ``evaluation.REPRODUCED_WITHIN``) are the sample's added to it, the
    recorded numbers left as they are. Otherwise nothing is written: the
    sample must describe the model the manifest's numbers do.
    """
    from movierec import artifacts, evaluation
    from movierec.prepared import prepare

    if args.allow_other_data:
        cli.fail("--record-sample measures the data the set was trained on: --allow-other-data does not go with it")
    if manifest.get("data", {}).get("fingerprint") != release.fingerprint():
        cli.fail(f"the data in {release.path} is not the data {args.model} was trained on (fingerprint differs)")
    measured = evaluation.evaluate_model(model, prepare(release, encoder=encoder), progress=not args.quiet)
    recorded = manifest.get("evaluation", {})

    def reproduced(key: str) -> bool:  # a NaN on either side is no reproduction
        return recorded.get(key) is not None and abs(measured[key] - recorded[key]) <= evaluation.REPRODUCED_WITHIN

    differ = [f"{key} {measured[key]:.6f} (recorded {recorded.get(key, 'nothing')})"
              for key in evaluation.REPRODUCED_KEYS if not reproduced(key)]  # fmt: skip
    if differ:
        cli.fail(f"the shipped {args.model} no longer gives its manifest's numbers ({'; '.join(differ)}): "
                 "nothing recorded; retrain it or find what changed")  # fmt: skip
    sample = {key: measured[key] for key in measured if key.startswith("full_sample_")}
    replaced = {key: recorded[key] for key in sample if key in recorded and recorded[key] != sample[key]}
    if replaced:
        print(f"replacing the sample's recorded {replaced}")
    try:
        written = artifacts.update_manifest(args.model, args.model_dir, expect_weights=manifest["weights"]["sha256"],
                                            evaluation={**recorded, **sample})  # fmt: skip
    except (ValueError, artifacts.ArtifactError) as err:
        cli.fail(str(err))
    print(f"sample of {sample['full_sample_users']:,} people: full NDCG@10 {sample['full_sample_ndcg@10']:.4f}, "
          f"Hit@10 {sample['full_sample_hit@10']:.4f}; recorded in {written}")  # fmt: skip
    return {"model": args.model, "evaluation": {**recorded, **sample}}


def reused_train_only_fit(args: argparse.Namespace, release, manifest: dict):
    """The fit ``--train-only-fit`` names, its prepared data and a record of it, if it is one of the shipped
    configuration on the same data's training part alone; otherwise a one-line error saying what differs."""
    from movierec import artifacts, training
    from movierec.prepared import prepare

    folder = args.train_only_fit
    try:
        fitted, encoder, fitted_manifest = artifacts.load(args.model, folder / "model", folder / "data")
    except artifacts.ArtifactError as err:
        cli.fail(f"--train-only-fit {folder}: {err}")
    fitted_training = fitted_manifest.get("training")
    if not isinstance(fitted_training, dict) or not fitted_training:
        cli.fail(f"--train-only-fit {folder}: its manifest records no training settings, so it cannot be matched "
                 "to the shipped configuration")  # fmt: skip
    every_setting = [k for k in training.TrainSettings.__dataclass_fields__ if k != "refit"]
    differ = configuration_differences(manifest, artifacts.hyperparameters(fitted_manifest), fitted_training,
                                       every_setting)  # fmt: skip
    if differ:
        cli.fail(f"--train-only-fit {folder} is another configuration than the shipped {args.model}'s "
                 f"(differs in {differ})")  # fmt: skip
    if fitted_training.get("refit") is not False or fitted_training.get("refitted") is not None:
        said = ", ".join(f"{k} {fitted_training.get(k, 'missing')!r}" for k in ("refit", "refitted"))
        cli.fail(f"--train-only-fit {folder} may have been refitted on train + validation (its training says {said}; "
                 "a fit on train alone says refit False, refitted None), so validation cannot judge it")  # fmt: skip
    if fitted_manifest.get("weights", {}).get("sha256") == manifest["weights"]["sha256"]:
        cli.fail(f"--train-only-fit {folder} holds the shipped weights themselves, not a fit on train alone")
    shipped_data, fitted_data = manifest.get("data", {}), fitted_manifest.get("data", {})
    for key in ("fingerprint", "split"):
        if fitted_data.get(key) != shipped_data.get(key):
            cli.fail(f"--train-only-fit {folder} was fitted on other data than the shipped {args.model} "
                     f"(its data.{key} differs)")  # fmt: skip
    record = {"made here": False, "folder": recorded_path(folder),
              "weights_sha256": fitted_manifest["weights"]["sha256"],
              "training": {k: fitted_training.get(k) for k in every_setting}}  # fmt: skip
    return fitted, prepare(release, encoder=encoder), record


def earlier_networks(args: argparse.Namespace, release, prepared) -> dict[str, dict]:
    """What an earlier new-user run (``--reuse-networks``) trained, by network, after checking it was made for the
    same model family on the same data and split (its whole recorded description); a one-line error otherwise."""
    from movierec import newuser

    path = args.reuse_networks
    try:
        earlier = json.loads(path.read_text())
        settings = earlier["settings"]
        trained, protocol = dict(settings["trained"]), settings["protocol"]["name"]
        fingerprint, split = settings["data"]["fingerprint"], settings["split"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        cli.fail(f"--reuse-networks {path} holds no new-user run ({type(err).__name__}: {err})")
    if protocol != "newuser" or earlier.get("model") != args.model:
        cli.fail(f"--reuse-networks {path} is a {protocol!r} run of {earlier.get('model')!r}, not a new-user run of "
                 f"{args.model!r}")  # fmt: skip
    if fingerprint != release.fingerprint() or split != json.loads(json.dumps(newuser.describe(prepared.split))):
        cli.fail(f"--reuse-networks {path} was made on other data or another split than this run's")
    return trained


def reused_network(args: argparse.Namespace, record, name: str, configuration: dict, settings, shipped: dict,
                   encoder, teacher: str | None = None):  # fmt: skip
    """(network, training history, source) of an earlier run's ``name`` network if it was trained exactly as this
    run would train it and saved, else None (it is trained here; a line says why).

    Training is seeded and reproducible (README, "Results on MovieLens 1M"),
    so such a network is the one this run would train with the same code and
    libraries: loading it saves the hours. Same means the hyperparameters
    (as the run recorded them and as the saved manifest has them), the model
    seed, the training settings, the teacher's weights (``teacher``, their
    checksum, for a distilled network) and the Keras and TensorFlow versions. Its
    weights must be the ones the run measured and its encoder this split's,
    or the command stops (before anything is trained: every network is
    checked first).
    """
    from movierec import artifacts
    from movierec.files import sha256_file

    if not isinstance(record, dict) or not isinstance(record.get("saved"), dict):
        print(f"training {name!r}: {args.reuse_networks} " + ("saved no such network" if isinstance(record, dict)
                                                                else "trained no such network"))  # fmt: skip
        return None
    mine, planned = json.loads(json.dumps(configuration)), settings.to_dict()
    differ = differing(mine, record.get("hyperparameters") or {}, BEFORE_HYPERPARAMETER)
    differ += differing_settings(planned, record.get("settings") or {}, keys=list(planned))
    differ += ["teacher"] if (record.get("teacher") or {}).get("weights_sha256") != teacher else []
    if differ:
        print(f"training {name!r}: the one {args.reuse_networks} saved was trained otherwise (in {differ})")
        return None
    try:
        folder, expected = recorded_location(record["saved"]["folder"]), str(record["saved"]["weights_sha256"])
        network, their_encoder, manifest = artifacts.load(args.model, folder, folder)
        got = sha256_file(folder / manifest["weights"]["file"])
    except (KeyError, TypeError, OSError, artifacts.ArtifactError) as err:
        cli.fail(f"--reuse-networks: the {name!r} network {args.reuse_networks} saved cannot be loaded "
                 f"({type(err).__name__}: {err})")  # fmt: skip
    if got != expected:
        cli.fail(f"--reuse-networks: {folder} holds other weights than the {name!r} network "
                 f"{args.reuse_networks} measured")  # fmt: skip
    if their_encoder.to_json() != encoder.to_json():
        cli.fail(f"--reuse-networks: the {name!r} network in {folder} encodes the data otherwise than this split")
    differ = differing(mine, artifacts.hyperparameters(manifest), BEFORE_HYPERPARAMETER)
    differ += ["seed"] if manifest["config"].get("seed") != shipped["config"].get("seed") else []
    differ += ["versions"] if manifest.get("versions") != artifacts.library_versions() else []
    if differ:
        print(f"training {name!r}: the network saved in {folder} was trained otherwise (in {differ})")
        return None
    if args.save_networks is not None and (args.save_networks / name).resolve() == folder.resolve():
        cli.fail(f"--save-networks {args.save_networks} would save the {name!r} network over the folder it is "
                 "reused from, which the earlier run's file names; give a folder of its own")  # fmt: skip
    print(f"{name!r}: reusing the network {args.reuse_networks} trained and saved in {folder}")
    source = {"run": str(args.reuse_networks), "folder": recorded_path(folder), "weights_sha256": expected}
    return network, record.get("history", {}), source


def new_user_variants(manifest: dict) -> dict[str, dict]:
    """The networks the new-user protocol trains for a shipped model, by name (``newuser.NETWORKS``), each as its
    hyperparameters' overrides of the shipped ones: the shipped kind, the network trained for newcomers (the
    history without the EASE prior, which a newcomer row cannot read), the shipped kind without anything a person
    rated and, for a stacked model only, the same network without its prior."""
    from movierec.history import HISTORY_LENGTH

    shipped = manifest["config"]
    with_history = {k: shipped[k] for k in ("history_length", "history_pooling") if shipped.get("history_length")}
    with_history = with_history or {"history_length": HISTORY_LENGTH, "history_pooling": "mean"}
    alone, no_history = {**with_history, "ease_l2": 0.0}, {"history_length": 0, "ease_l2": 0.0}
    if shipped.get("ease_l2"):  # a stacked model is also reported as the network alone
        return {"model": {**with_history, "ease_l2": shipped["ease_l2"]}, "no_prior": alone, "newcomer": alone,
                "no_history": no_history}  # fmt: skip
    return {"model": with_history, "newcomer": alone, "no_history": no_history}


def partial_networks(args: argparse.Namespace, manifest: dict) -> list[str] | None:
    """The networks ``--networks`` names, in the protocol's order, or None for a whole run (no option, or every
    network named); a one-line error for an unknown name, a newcomer rule without the newcomer network, or a
    partial run's ``--out`` over a whole run's file."""
    every = list(new_user_variants(manifest))
    if args.networks is None:
        return None
    asked = [name.strip() for name in args.networks.split(",") if name.strip()]
    unknown = [name for name in asked if name not in every]
    if unknown or not asked:
        cli.fail(f"--networks {args.networks!r}: the new-user protocol trains {every} for the shipped "
                 f"{args.model}" + (f", not {unknown}" if unknown else ""))  # fmt: skip
    for option in ("newcomer_history", "newcomer_share"):
        if getattr(args, option, None) is not None and "newcomer" not in asked:
            cli.fail(f"--{option.replace('_', '-')} shapes the 'newcomer' network, which --networks "
                     f"{args.networks!r} leaves out")  # fmt: skip
    if set(asked) == set(every):
        return None
    try:
        earlier = json.loads(args.out.read_text()) if args.out is not None and args.out.exists() else None
    except (OSError, ValueError):
        earlier = None  # not a run's file: written over as any --out is
    if isinstance(earlier, dict) and isinstance(earlier.get("settings"), dict) and "trained" in earlier["settings"] \
            and "partial" not in earlier["settings"]:  # fmt: skip
        cli.fail(f"--out {args.out} holds a whole new-user run, which a partial run (--networks) would replace; "
                 "give another file")  # fmt: skip
    return [name for name in every if name in asked]


def distillation_weight(manifest: dict) -> float:
    """The weight the shipped set learned to match its teacher with: 0 if it learned from its labels alone."""
    return float(manifest.get("training", {}).get("distillation_weight") or 0.0)


def network_teachers(args, protocol, release, prepared, manifest: dict, variants: dict) -> dict[str, tuple]:
    """``--teachers``: each named network's teacher as (model, record), checked before any training
    (``experiment.load_teacher``): a set of the same variant saved from a new-user run on this data and split (so
    trained on the rows this run trains on), reading the network's inputs and giving its outputs, for a model that
    was distilled itself (its manifest's ``distillation_weight``, which the network is then trained with)."""
    from movierec import models, newuser, protocols
    from movierec.experiment import load_teacher

    if args.teachers is None:
        return {}
    weight = distillation_weight(manifest)
    if not weight:
        cli.fail(f"--teachers: the shipped {args.model} was not distilled (its manifest's distillation_weight is 0), "
                 "so its networks learn from their labels alone")  # fmt: skip
    teachers, data = {}, {"fingerprint": release.fingerprint(), "split": newuser.describe(prepared.split)}
    for item in (part.strip() for part in args.teachers.split(",") if part.strip()):
        name, _, folder = item.partition("=")
        if not folder or name not in variants:
            cli.fail(f"--teachers {item!r}: give NAME=DIR, NAME one of the networks this run trains, {list(variants)}")
        if name in teachers:
            cli.fail(f"--teachers names the {name!r} network twice")
        config, _ = protocols.protocol_setup(protocol, manifest, args.epochs, variants[name])
        student = models.MODELS[args.model].built(prepared.vocab_sizes, **config)
        try:
            teachers[name] = load_teacher(args.model, Path(folder), prepared, data, student, weight, refitted=False)
        except ValueError as err:
            cli.fail(f"--teachers {name}={folder}: {err}")
        if teachers[name][1]["variant"] != name:
            variant = teachers[name][1]["variant"]
            cli.fail(f"--teachers {name}={folder}: " + (f"that set is the {variant!r} network of its run, not {name!r}"
                     if variant else "that set is no network a new-user run saved"))  # fmt: skip
    return teachers


def run_new_users(args: argparse.Namespace, protocol, release, model, manifest: dict,
                  partial: list[str] | None = None) -> dict:  # fmt: skip
    """The new-user protocol: fresh models of the shipped kind (with and without a history, with the history but no
    EASE prior and a share of its rows trained as a newcomer's and, for a stacked model, without its EASE prior), the
    choice of a stacked model's newcomer rescaling and of the network for newcomers, and the baselines, on the same
    people. ``--reuse-networks`` loads the networks an earlier run trained exactly so instead of training them;
    ``partial`` (``--networks``) trains and measures only those networks, and chooses nothing."""
    from movierec import artifacts, evaluation, newuser, protocols
    from movierec.files import sha256_file, write_json
    from movierec.prepared import prepare
    from movierec.scoring import RANKING_OPTIONS, ranking_rule, set_ranking_rule

    prepared = prepare(release, split=protocol.make_split(release.ratings))
    variants = new_user_variants(manifest)
    if partial is not None:
        variants = {name: variants[name] for name in partial}
    trained_as = {"newcomer": {"newcomer_share": args.newcomer_share or newuser.NEWCOMER_SHARE,
                               **({"newcomer_history": args.newcomer_history} if args.newcomer_history else {})}}
    teachers = network_teachers(args, protocol, release, prepared, manifest, variants)
    distilled = distillation_weight(manifest)
    for name in variants:  # a distilled model's network with no teacher given learns from its labels alone
        if name in teachers:
            trained_as[name] = {**trained_as.get(name, {}), "distillation_weight": distilled}
        elif distilled:
            print(f"{name!r}: no --teachers for it, so it learns from its labels alone (the shipped {args.model} "
                  "was distilled)")  # fmt: skip
    earlier = {} if args.reuse_networks is None else earlier_networks(args, release, prepared)
    # Every network ranks by the shipped ranking rule, inherited as the hyperparameters are, so that the newcomer
    # rescaling is chosen under the rule it will be served with (a weak, stated leak: movierec/newuser.py).
    shipped_rule = ranking_rule(model)
    rule = dict(zip(RANKING_OPTIONS, shipped_rule, strict=True))
    fitted, trained = {}, {}
    # What each network is trained with here; every earlier network is checked before anything is trained, so a
    # bad one stops the run at once.
    planned = {name: ({**artifacts.hyperparameters(manifest), **overrides},
                      protocols.protocol_setup(protocol, manifest, args.epochs, overrides, trained_as.get(name))[1])
               for name, overrides in variants.items()}  # fmt: skip
    reusable = {name: reused_network(args, earlier.get(name), name, *planned[name], manifest, prepared.encoder,
                                     teachers[name][1]["weights_sha256"] if name in teachers else None)
                for name in variants if args.reuse_networks is not None}  # fmt: skip
    # A network trained here must not be saved over one the earlier run's file names, which would stop loading.
    named = {recorded_location(str(record["saved"].get("folder"))).resolve(): name for name, record in earlier.items()
             if isinstance(record, dict) and isinstance(record.get("saved"), dict)}  # fmt: skip
    for name in variants:
        if args.save_networks is not None and (args.save_networks / name).resolve() in named:
            cli.fail(f"--save-networks {args.save_networks} would save the {name!r} network over the folder "
                     f"{args.reuse_networks} names for its {named[(args.save_networks / name).resolve()]!r} "
                     "network; give a folder of its own")  # fmt: skip
    for name, overrides in variants.items():
        (configuration, settings), reused = planned[name], reusable.get(name)
        if reused is None:
            fitted[name], settings, history = protocols.train_for_protocol(
                protocol, prepared, manifest, verbose=0 if args.quiet else 2, epochs=args.epochs, overrides=overrides,
                settings_overrides=trained_as.get(name), teacher=teachers.get(name, (None,))[0],
            )  # fmt: skip
        else:
            fitted[name], history, source = reused
        set_ranking_rule(fitted[name], shipped_rule)
        trained[name] = {"overrides": overrides, "hyperparameters": configuration, "settings": settings.to_dict(),
                         "ranking": rule, "history": history}  # fmt: skip
        if reused is not None:
            trained[name].update(reused_from=source, saved={k: source[k] for k in ("folder", "weights_sha256")})
        if name in teachers:
            trained[name]["teacher"] = teachers[name][1]
        if args.save_networks is not None:
            folder = args.save_networks / name
            paths = artifacts.save(
                fitted[name], prepared.encoder, args.model, folder, folder,
                data={"release": release.name, "fingerprint": release.fingerprint(),
                      "split": newuser.describe(prepared.split)},
                training={**settings.to_dict(), "history": history,
                          **({"teachers": {"fit": teachers[name][1]}} if name in teachers else {})},
                serving={"trained_by": "the new-user protocol", "variant": name},
            )  # fmt: skip
            trained[name]["saved"] = {"folder": recorded_path(folder), "weights_sha256": sha256_file(paths.weights)}
    l2, _ = evaluation.ease_l2_on_validation(prepared)
    graded, _ = evaluation.ease_on_validation(prepared, evaluation.GRADED_L2_GRID, evaluation.GRADED_DISLIKED_WEIGHTS)
    measured, choices, on_validation = newuser.evaluate(prepared, fitted, l2, graded=graded)
    candidates = [n for n in fitted if n in newuser.MAY_SERVE_NEWCOMERS]
    serving = None
    if partial is None:  # a partial run has not every candidate to choose from
        network, means = newuser.choose_network(on_validation, candidates)
        serving = {"network": network, "chosen_by": "mean NDCG@10 over K on the validation people",
                   "validation_mean_ndcg@10": means}  # fmt: skip

    def by_k(table: dict) -> dict:
        return {k: {**({"model": rows["model"]} if "model" in rows else {}),
                    "baselines": {n: r for n, r in rows.items() if n != "model"}}
                for k, rows in table.items()}  # fmt: skip

    reveal, validation_reveal = by_k(measured), by_k(on_validation)
    print(f"protocol {protocol.name}: {protocol.summary}")
    for name, choice in choices.items():
        print(f"{name}: prior_profile_power {choice['prior_profile_power']} chosen on the validation people; "
              "NDCG@10 there by power and K: " + json.dumps(choice["validation_ndcg@10"]))  # fmt: skip
    if serving is None:
        means = newuser.validation_means(on_validation, candidates)
        print(f"a partial run (--networks {args.networks}) chooses no network for newcomers; mean NDCG@10 over K "
              "on the validation people: " + ", ".join(f"{name} {mean:.4f}" for name, mean in means.items()))
    else:
        print(f"for newcomers the validation people chose {serving['network']!r}, by mean NDCG@10 over K: "
              + ", ".join(f"{name} {mean:.4f}" for name, mean in serving["validation_mean_ndcg@10"].items()))
    for k, rows in measured.items():
        print(f"K = {k}: " + ", ".join(f"{name} NDCG@10 {r['full_ndcg@10']:.4f} Hit@10 {r['full_hit@10']:.4f}"
                                       for name, r in rows.items()))  # fmt: skip
    payload = {
        "model": args.model,
        "reveal": reveal,
        "settings": {
            "protocol": protocol.describe(),
            "split": newuser.describe(prepared.split),
            "ease_l2": l2,
            "ease_graded": {"l2": graded[0], "disliked_weight": graded[1]},
            "newcomers": choices,
            **({"newcomer_network": serving} if serving else {"partial": {"networks": list(variants), "note": (
                "--networks: only these networks were trained; no network was chosen for newcomers")}}),
            # Every method on the validation people: what choosing between them (for newcomers) may read.
            "validation_people": validation_reveal,
            "data": {"release": release.name, "fingerprint": release.fingerprint()},
            "trained": trained,
        },
    }
    if args.out:
        write_json(args.out, payload)
        print(f"wrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
