"""Allow `python -m b24sync`."""

from b24sync.cli import main

raise SystemExit(main())
