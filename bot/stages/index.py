"""An inverted index over the examples: terms → examples, with BM25 weights.

Terms are an example's meaningful tokens plus the character bigrams inside them, so a buyer who
segments differently ("发货了吗" / "发 货") or makes a one-character typo still finds the example.
A query touches only the postings of its own terms, never every example.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

_K1 = 1.2
_B = 0.75


def terms(tokens: Iterable[str]) -> list[str]:
    """The index terms of a token sequence: each token, and the bigrams of longer tokens."""
    out: list[str] = []
    for token in tokens:
        out.append(token)
        if len(token) > 2:
            out.extend(token[i : i + 2] for i in range(len(token) - 1))
    return out


class Hit(NamedTuple):  # a tuple: two dozen of them are made for every message
    """A candidate example: its BM25 score, and `share`, the part of the example's own weight the
    query covers (1.0: every word of the example is in the query, rare ones weighing most)."""

    doc: int
    score: float
    share: float


class Index:
    """BM25 over documents given as token sequences; documents are numbered in build order.

    Each posting list is sorted by the term's BM25 contribution to the document ("impact order"), and
    a query reads at most `OPEN_LIMIT` entries of any list: a common word ("怎么样") then costs the same
    in a shop of 50k examples as in one of 1k. A common word also adds weight to every example a rarer
    word of the query already found."""

    OPEN_LIMIT = 200

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        counts: list[dict[str, int]] = [{} for _ in documents]
        df: dict[str, int] = defaultdict(int)
        lengths: list[int] = []
        for doc, tokens in enumerate(documents):
            doc_terms = terms(tokens)
            lengths.append(len(doc_terms))
            for term in doc_terms:
                counts[doc][term] = counts[doc].get(term, 0) + 1
            for term in counts[doc]:
                df[term] += 1
        n = max(len(documents), 1)
        avg = (sum(lengths) / n) or 1.0
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._impact: list[dict[str, float]] = []
        postings: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for doc, doc_counts in enumerate(counts):
            norm = _K1 * (1 - _B + _B * lengths[doc] / avg)
            impact = {t: self._idf[t] * tf * (_K1 + 1) / (tf + norm) for t, tf in doc_counts.items()}
            self._impact.append(impact)
            for term, value in impact.items():
                postings[term].append((-value, doc))
        self._postings = {t: tuple((doc, -v) for v, doc in sorted(p)) for t, p in postings.items()}
        self._full = [sum(impact.values()) for impact in self._impact]

    def __len__(self) -> int:
        return len(self._impact)

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def search(self, tokens: Iterable[str], limit: int = 24) -> list[Hit]:
        """The `limit` best documents for the query tokens, best first."""
        scores: dict[int, float] = defaultdict(float)
        query = [t for t in set(terms(tokens)) if t in self._postings]
        for term in sorted(query, key=lambda t: (len(self._postings[t]), t)):  # rarest first
            posting = self._postings[term]
            if scores and len(posting) > self.OPEN_LIMIT:
                for doc in list(scores):
                    scores[doc] += self._impact[doc].get(term, 0.0)
                continue
            for doc, value in posting[: self.OPEN_LIMIT]:
                scores[doc] += value
        best = heapq.nlargest(limit, [(score, -doc) for doc, score in scores.items()])  # ties: lower doc
        full = self._full
        return [Hit(-neg, score, min(1.0, score / full[-neg]) if full[-neg] else 0.0) for score, neg in best]
