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
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Hit:
    """A candidate example: its BM25 score, and `share`, the part of the example's own weight the
    query covers (1.0: every word of the example is in the query, rare ones weighing most)."""

    doc: int
    score: float
    share: float


class Index:
    """BM25 over documents given as token sequences; documents are numbered in build order."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        postings: dict[str, dict[int, int]] = defaultdict(dict)
        lengths: list[int] = []
        for doc, tokens in enumerate(documents):
            doc_terms = terms(tokens)
            lengths.append(len(doc_terms))
            for term in doc_terms:
                postings[term][doc] = postings[term].get(doc, 0) + 1
        n = max(len(documents), 1)
        self._avg = (sum(lengths) / n) or 1.0
        self._lengths = lengths
        self._idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()}
        # Terms in more than a fifth of all examples say little and would make a query touch
        # a large part of the index; they are left out of retrieval (they still count in scoring).
        limit = max(50, n // 5)
        self._postings = {t: tuple(p.items()) for t, p in postings.items() if len(p) <= limit}
        self._full = [self._score_of(doc, terms(tokens)) for doc, tokens in enumerate(documents)]

    def _score_of(self, doc: int, doc_terms: list[str]) -> float:
        """What a query containing every term of `doc` would score on it."""
        total = 0.0
        for term in set(doc_terms):
            tf = doc_terms.count(term)
            norm = _K1 * (1 - _B + _B * self._lengths[doc] / self._avg)
            total += self._idf[term] * tf * (_K1 + 1) / (tf + norm)
        return total

    def __len__(self) -> int:
        return len(self._lengths)

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def search(self, tokens: Iterable[str], limit: int = 24) -> list[Hit]:
        """The `limit` best documents for the query tokens, best first."""
        scores: dict[int, float] = defaultdict(float)
        for term in set(terms(tokens)):
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = self._idf[term]
            for doc, tf in posting:
                norm = _K1 * (1 - _B + _B * self._lengths[doc] / self._avg)
                scores[doc] += idf * tf * (_K1 + 1) / (tf + norm)
        best = heapq.nlargest(limit, scores.items(), key=lambda item: (item[1], -item[0]))
        return [
            Hit(doc, score, min(1.0, score / self._full[doc]) if self._full[doc] else 0.0)
            for doc, score in best
        ]
