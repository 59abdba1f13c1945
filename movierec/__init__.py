"""movierec: the MovieLens pipeline around the AutoInt and AutoInt+ models.

The package holds what the top-level entry points share: reading and fetching
MovieLens (`data`), turning ratings into categorical fields (`features`),
ranking metrics and baselines (`metrics`, `baselines`), training
(`training`), saved artifacts (`artifacts`) and the command-line tools
(`python -m movierec.train`, `python -m movierec.evaluate`).
"""

__version__ = "0.1.0"
