"""How numbers and addresses read on the embedding pages: money, durations, sizes, counts and
URLs that wrap, one rule each."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def money(value: Decimal | None) -> str:
    """Dollars: cents for real money, four decimals below a cent so tiny costs are not $0.00."""
    if value is None:
        return "—"
    if value == 0:
        return "free"
    if value < Decimal("0.0001"):
        return "< $0.0001"
    if value < Decimal("0.01"):
        return f"${value:.4f}"
    return f"${value:,.2f}"


@register.filter
def duration(seconds: float | None) -> str:
    """`3 h 05 min`, `4 min 09 s`, `12 s`; an em dash when unknown."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


@register.filter
def breakable_urls(text: str) -> SafeString:
    """The text with a line-break chance after each `/`, `:` and `.` of its URLs, so a narrow
    cell wraps an address between its parts and every other word stays whole."""

    def breakable(match: re.Match[str]) -> str:
        return re.sub(r"([/:.])(?=.)", r"\1<wbr>", escape(match.group(0)))

    escaped = []
    position = 0
    for match in _URL.finditer(text):
        escaped += [escape(text[position : match.start()]), breakable(match)]
        position = match.end()
    return mark_safe("".join([*escaped, escape(text[position:])]))


@register.filter
def size(value: int | float | str | None) -> str:
    """Bytes for people, 1,024 to a unit like Django's `filesizeformat`, but never "1000.0 KB":
    a figure that would round to 1,000 or more moves up a unit ("1.0 MB"). No figure (a model
    that stores nothing) reads as a dash."""
    if value is None or value == "":
        return "—"
    amount = float(value)
    if abs(amount) < 1024:
        return "1 byte" if amount == 1 else f"{amount:.0f} bytes"
    amount /= 1024
    for unit in ("KB", "MB", "GB", "TB"):
        if round(abs(amount), 1) < 1000:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} PB"


@register.filter
def thousands(value: int | float | None) -> str:
    return "—" if value is None else f"{round(value):,}"


@register.filter
def paced_for(paced: Mapping[str, str] | None, model_key: str) -> str:
    """The pacing line of the provider of `model_key` (the jobs page's `paced`), or ''."""
    return (paced or {}).get(model_key.partition(":")[0], "")
