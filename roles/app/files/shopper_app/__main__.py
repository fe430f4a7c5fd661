"""`python3 -m shopper_app migrate`: create the schema (idempotent) and exit."""
from __future__ import annotations

import sys

from .config import Settings
from .store import Store


def main(argv) -> int:
    if argv[1:] != ["migrate"]:
        print("usage: python3 -m shopper_app migrate", file=sys.stderr)
        return 2
    Store(Settings.from_env()).ensure_schema()
    print("schema ready")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
