"""Recommend movies in the terminal: tell it what you rated, get the top N with the movies behind each pick.

    python -m movierec.recommend --model autointp --rated 260:5,1196:5,1210:4 --n 10 [--json]

``--rated`` lists ``movie_id:stars`` (1-5) in the order they were rated.
Without ``--user`` they are a new person's ratings, with demographics from
``--gender/--age/--occupation/--zip`` (by default the data's most common
gender, age bracket and occupation, and an unknown zip code); with
``--user`` they are added to that MovieLens user's ratings. A new person is
ranked by the model's network for newcomers if the new-user protocol chose
one (``artifacts.newcomer_folders``). Rated movies are
never recommended. The text lists each pick's match (the share of the
movies not yet rated that score no higher: a ranking rule that leans on
P(rated) gives the top picks scores that all print as 1.000). ``--json``
prints ``[{"movie_id", "title", "score", "match", "because": [movie_id,
...]}, ...]``, where "because" names the liked movies (4 or 5 stars) that
the pick's score leaned on most.
"""

from __future__ import annotations

import argparse
import json
import re

from movierec import cli
from movierec.data import AGE_BRACKETS, ML1M_OCCUPATIONS

MAX_N = 500  # what Recommender.rank allows


def rated_pairs(text: str) -> tuple[tuple[int, int], ...]:
    """``"260:5,1196:4"`` as ((260, 5), (1196, 4)); a malformed pair or stars outside 1-5 is a usage error."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        movie, _, stars = item.partition(":")
        try:
            pair = (int(movie), int(stars))
        except ValueError:
            raise argparse.ArgumentTypeError(f"each rating is movie_id:stars, such as 260:5; got {item!r}") from None
        if not 1 <= pair[1] <= 5:
            raise argparse.ArgumentTypeError(f"stars are 1 to 5, got {item!r}")
        if any(movie_id == pair[0] for movie_id, _ in pairs):
            raise argparse.ArgumentTypeError(f"movie {pair[0]} is rated twice; give each movie once")
        pairs.append(pair)
    if not pairs:
        raise argparse.ArgumentTypeError("give at least one movie_id:stars, such as 260:5")
    return tuple(pairs)


def parse_args(argv=None) -> argparse.Namespace:
    parser = cli.tool_parser("python -m movierec.recommend", __doc__)
    parser.add_argument("--rated", type=rated_pairs, default=(), help="movie_id:stars,... in the order rated")
    parser.add_argument("--user", type=int, default=None, help="an existing MovieLens user id (else a new person)")
    person = parser.add_argument_group("a new person (not with --user)")
    person.add_argument("--gender", choices=["F", "M"], default=None)
    person.add_argument("--age", type=int, choices=sorted(AGE_BRACKETS), default=None, help="age bracket code")
    person.add_argument("--occupation", choices=ML1M_OCCUPATIONS, default=None, metavar="OCCUPATION",
                        help="as MovieLens names it, e.g. programmer or 'college/grad student'")  # fmt: skip
    person.add_argument("--zip", type=zip_code, default="", help="5-digit zip code (default: unknown)")
    parser.add_argument("--n", type=top_n, default=10, help="how many movies (1-500)")
    parser.add_argument("--year", type=int, default=None, help="date of the request (default: the data's last month)")
    parser.add_argument("--month", type=int, choices=range(1, 13), default=None, metavar="1-12")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    given = [f"--{name}" for name in ("gender", "age", "occupation") if getattr(args, name) is not None]
    if args.user is not None and (given or args.zip):
        parser.error(f"{', '.join(given or ['--zip'])} describe a new person; a MovieLens user (--user) has their own")
    return args


def zip_code(text: str) -> str:
    """A 5-digit zip code, or nothing (the model's unknown zip code)."""
    if text.strip() and not re.fullmatch(r"[0-9]{5}", text.strip()):
        raise argparse.ArgumentTypeError(f"a zip code is 5 digits, like 10001; got {text!r}")
    return text.strip()


def top_n(text: str) -> int:
    value = cli.positive_int(text)
    if value > MAX_N:
        raise argparse.ArgumentTypeError(f"at most {MAX_N} movies, got {value}")
    return value


def main(argv=None):
    return cli.run_tool(parse_args, run, argv)


def profile_of(args: argparse.Namespace, rec):
    """The profile the options describe: an existing user, or a new person with given or common demographics."""
    from movierec.recommend import Profile

    if args.user is not None:
        return Profile(**{**vars(rec.profile(args.user)), "rated": args.rated})
    users = rec.data.users
    common = {field: users[field].mode().iloc[0] for field in ("gender", "age", "occupation")}
    return Profile(
        args.gender or common["gender"],
        int(args.age if args.age is not None else common["age"]),
        args.occupation or str(common["occupation"]),
        args.zip,
        rated=args.rated,
    )


def run(args: argparse.Namespace) -> list[dict]:
    from movierec import artifacts
    from movierec.recommend import Recommender, match_text

    # a new person is served by the network chosen for newcomers, if the model has one
    folders = artifacts.serving_folders(args.model, args.model_dir, args.encoder_dir, newcomer=args.user is None)
    model, encoder, manifest = artifacts.load(args.model, *folders)
    rec = Recommender(model, encoder, cli.load_release(args), manifest)
    profile = profile_of(args, rec)
    year = rec.latest[0] if args.year is None else args.year
    month = rec.latest[1] if args.month is None else args.month
    top = rec.rank(profile, year, month, n=args.n)
    because = rec.because(profile, top["movie_id"].tolist(), year, month)
    titles = rec.display_titles()
    picks = [
        {"movie_id": int(m), "title": titles[int(m)], "score": round(float(s), 6), "match": round(float(x), 6),
         "because": b}
        for m, s, x, b in zip(top["movie_id"], top["score"], top["match"], because, strict=True)
    ]  # fmt: skip
    if args.json:
        print(json.dumps(picks, indent=2, ensure_ascii=False))
        return picks
    print(f"Top {len(picks)} for {describe(profile)} ({year}-{month:02d}), by {args.model}. Match: the share of "
          "the movies not yet rated that score no higher (99.9% = the top 0.1%).")  # fmt: skip
    for rank, pick in enumerate(picks, 1):
        reason = f"  because you liked {' and '.join(titles[m] for m in pick['because'])}" if pick["because"] else ""
        print(f"{rank:>3}. {match_text(pick['match']):>6} match  {pick['title']}{reason}")
    return picks


def describe(profile) -> str:
    from movierec.data import AGE_BRACKETS

    who = f"user {profile.user_id}" if profile.user_id is not None else "a new person"
    rated = f", {len(profile.rated)} ratings given here" if profile.rated else ""
    return f"{who} ({profile.gender}, {AGE_BRACKETS[profile.age]}, {profile.occupation}{rated})"


if __name__ == "__main__":
    main()
