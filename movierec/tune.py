"""``python -m movierec.tune``, kept for the documented command; the tool is ``movierec.cli.tune``."""

from movierec.cli.tune import main

if __name__ == "__main__":
    main()
