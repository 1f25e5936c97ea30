"""`bot mine` at scale: 100k stored buyer turns (the simulated month of tests/runners/month.py,
played once and stored 34 times over under other session ids), mined in process. Prints the
seconds of each step; the target is under a minute on 2 cores.

    python benchmarks/mine.py
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot import Bot  # noqa: E402
from bot.runners.mine import cluster, collect, propose  # noqa: E402
from bot.service import Blocking, Conversations  # noqa: E402
from bot.storage.memory import MemoryStore  # noqa: E402
from tests.runners.month import simulate  # noqa: E402


def measure() -> dict[str, float]:
    """Seconds of each step of mining 100k stored turns, and how many turns, misses and clusters."""
    bot = Bot.from_config(REPO / "config.yaml")
    store = MemoryStore()
    Blocking.run(simulate(Conversations(lambda _: bot, store), store, REPO / "tests" / "data" / "dev.jsonl"))
    month = Blocking.run(store.history("default"))
    copies = -(-100_000 // len(month.turns))
    turns = [dataclasses.replace(t, session_id=f"{k}-{t.session_id}", at=t.at + k * 86400)
             for k in range(copies) for t in month.turns]  # fmt: skip
    started = time.perf_counter()
    misses = collect(bot, turns)
    collected = time.perf_counter()
    clusters = cluster(bot, misses)
    clustered = time.perf_counter()
    for c in clusters[:50]:
        propose(bot, REPO, c)
    proposed = time.perf_counter()
    return {"turns": len(turns), "misses": len(misses), "clusters": len(clusters),
            "collect": collected - started, "cluster": clustered - collected, "propose": proposed - clustered,
            "total": proposed - started}  # fmt: skip


def main() -> None:
    m = measure()
    print(f"{m['turns']:.0f} stored turns: collect {m['collect']:.1f} s ({m['misses']:.0f} misses), cluster"
          f" {m['cluster']:.1f} s ({m['clusters']:.0f} clusters), propose for the top 50 {m['propose']:.1f} s;"
          f" total {m['total']:.1f} s (target < 60 s)")  # fmt: skip


if __name__ == "__main__":
    main()
