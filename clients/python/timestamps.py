"""RFC 3339 times as the API writes them (UTC, milliseconds, `Z`)."""

from __future__ import annotations

import datetime as dt


def to_rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware one")
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_rfc3339() -> str:
    return to_rfc3339(dt.datetime.now(dt.UTC))


def parse_rfc3339(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def rfc3339_to_ms(value: str) -> int:
    return int(parse_rfc3339(value).timestamp() * 1000)


def normalise(value: str | dt.datetime | None) -> str:
    """Any aware datetime or RFC 3339 string as the API's UTC form; None means now."""
    if value is None:
        return now_rfc3339()
    if isinstance(value, str):
        return to_rfc3339(parse_rfc3339(value))
    return to_rfc3339(value)
