"""Entry point for ``python -m tuipacs``."""

from tuipacs.cli import main

raise SystemExit(main())
