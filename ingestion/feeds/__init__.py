"""Every feed the platform ingests, by name."""

from __future__ import annotations

from ingestion.feeds import ndelius, oasys, partners
from ingestion.schema import Feed

ALL_FEEDS: tuple[Feed, ...] = (*ndelius.FEEDS, *oasys.FEEDS, *partners.FEEDS)
FEEDS_BY_NAME: dict[str, Feed] = {feed.name: feed for feed in ALL_FEEDS}


def get_feed(name: str) -> Feed:
    try:
        return FEEDS_BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(FEEDS_BY_NAME))
        raise KeyError(f"unknown feed {name!r}; known feeds: {known}") from None


def feed_for_file(file_name: str) -> Feed | None:
    """The feed whose file naming pattern matches ``file_name``."""
    for feed in ALL_FEEDS:
        if feed.matches(file_name):
            return feed
    return None
