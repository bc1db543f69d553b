"""Feed docstrings state the declared figures."""

import re

from ingestion.feeds import get_feed, oasys


def test_the_oasys_docstring_counts_the_declared_item_scores():
    scores = sum(c.type == "score" for c in get_feed("oasys_assessments").columns)
    stated = re.search(r"The (\d+) item scores", oasys.__doc__ or "")
    assert stated and int(stated.group(1)) == scores
