"""``python -m movierec.train``, kept for the documented command; the tool is ``movierec.cli.train``."""

from movierec.cli.train import main

if __name__ == "__main__":
    main()
