"""movierec: the MovieLens pipeline around the AutoInt and AutoInt+ models (``autoint``, ``autointp``).

One idea per module, and data flows one way through them (no module imports
one listed after it; ``tests/test_layering.py`` checks it):

``startup`` -> ``files`` -> ``data`` -> ``features`` -> ``split`` ->
``prepared`` -> ``history`` -> ``interactions`` -> ``baselines`` -> ``prior`` ->
``negatives`` -> ``pipeline`` -> ``objectives`` -> the models (``autoint``,
``autointp``, ``models``) -> ``distillation`` -> ``training`` -> ``artifacts`` -> ``ranking`` ->
``metrics`` -> ``scoring`` -> ``evaluation`` -> ``newuser`` ->
``experiment`` -> ``protocols`` -> ``tuning`` -> ``recommend`` -> ``app`` -> ``server``
-> ``cli``.
"""

__version__ = "0.1.0"
