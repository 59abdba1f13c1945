"""``python -m movierec.evaluate``, kept for the documented command; the tool is ``movierec.cli.evaluate``."""

from movierec.cli.evaluate import main

if __name__ == "__main__":
    main()
