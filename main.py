"""Launch the minidl playground: ``python main.py [flags]`` (``--help`` lists them)."""

import sys

from playground.app import main

if __name__ == "__main__":
    sys.exit(main())
