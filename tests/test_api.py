"""`bot.__all__` is exactly the public names of the library."""

import bot


def test_public_names() -> None:
    """The names a developer imports from `bot` are exactly these."""
    assert [
        "Action",
        "Bot",
        "Candidate",
        "Evidence",
        "HandoffReason",
        "LoadError",
        "Origin",
        "Problem",
        "Reply",
    ] == sorted(bot.__all__)
