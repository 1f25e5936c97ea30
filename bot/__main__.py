"""The `bot` command; `python -m bot …` is the same."""

from __future__ import annotations

import os


def main() -> None:
    # The command uses no pydantic plugins, and looking for them (reading every installed package's
    # entry points) would cost ~30 ms of every start; a caller may still set the variable.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from bot.faces.cli import main as command

    command()


if __name__ == "__main__":
    main()
