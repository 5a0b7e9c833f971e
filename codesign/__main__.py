"""``python -m codesign`` runs the CLI."""

from __future__ import annotations

import sys

from codesign.cli import main

sys.exit(main())
