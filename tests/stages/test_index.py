"""The inverted index: which examples are candidates for a message, and how few it reads to find them."""

from bot.stages.index import Index, terms


def test_terms_include_bigrams_of_long_tokens() -> None:
    """A long token also indexes its bigrams, so a partial match still finds it."""
    assert ["七天无理由", "七天", "天无", "无理", "理由"] == terms(["七天无理由"])


def test_search_returns_only_examples_sharing_a_term() -> None:
    """Candidates come from postings: an example with no common term is never returned."""
    index = Index([["发货"], ["退货", "运费"], ["发票"]])
    assert [0] == [hit.doc for hit in index.search(["发货", "时间"])]
    assert [] == index.search(["天气"])


def test_rare_terms_weigh_more() -> None:
    """BM25: a term found in few examples outweighs one found in many."""
    docs = [["快递", "顺丰"]] + [["快递", f"x{i}"] for i in range(20)]
    index = Index(docs)
    assert index.idf("顺丰") > index.idf("快递")
    assert 0 == index.search(["快递", "顺丰"])[0].doc


def test_a_common_term_reads_only_the_best_part_of_its_postings() -> None:
    """A word in 1000 examples costs a bounded read, and what it finds are its best matches: the
    shortest examples, where the word weighs most (BM25 length normalisation)."""
    docs = [["的", *[f"w{i}_{j}" for j in range(i % 7)]] for i in range(1000)]
    hits = Index(docs).search(["的"], limit=5)
    assert 5 == len(hits)
    assert all(hit.doc % 7 == 0 for hit in hits)


def test_share_says_how_much_of_the_example_the_query_covers() -> None:
    """A query with the example's rare word covers most of it; one with only its common word, little."""
    docs = [["白条", "能用"], *[["能用", f"x{i}"] for i in range(10)]]
    index = Index(docs)
    full = next(h for h in index.search(["白条", "能用"]) if h.doc == 0)
    common = next(h for h in index.search(["老人", "能用"]) if h.doc == 0)
    assert 1.0 == round(full.share, 6)
    assert common.share < 0.3
