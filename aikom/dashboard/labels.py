"""Ukrainian labels and the one way dashboard pages put text into Markdown.

Streamlit renders titles, captions, messages, expander and checkbox labels as Markdown. Anything that
comes from the database or from what people typed (names, comments, order numbers, process titles) goes
through `plain()` first, so `[клік](http://…)` stays those characters and `![](http://…)` loads nothing.
Long or multi-line values are better shown with `st.text`, which never interprets them.
"""

from __future__ import annotations

import re
from datetime import datetime

from aikom.core.timefmt import ZONE_LABEL, format_kyiv
from aikom.models import Decision

DECISION_LABELS_UK: dict[Decision, str] = {
    Decision.APPROVE: "Погодити",
    Decision.REJECT: "Відхилити",
    Decision.CONFIRM: "Підтвердити",
    Decision.DEACTIVATE: "Деактивувати",
}
# Column headers of tables that show moments: the zone is said once, in the header.
KYIV_COLUMN = f"({ZONE_LABEL})"

# CommonMark lets every ASCII punctuation character be escaped with a backslash; escaping all of them
# also defuses Streamlit's own additions (`:red[…]`, `:material/…:`, `$…$`) and GFM autolinks.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def plain(value: object) -> str:
    """`value` as literal text inside Markdown: punctuation escaped, line breaks as spaces."""
    text = " ".join(str(value).split()) if value is not None else ""
    return _PUNCTUATION.sub(r"\\\1", text)


def kyiv(moment: datetime | None) -> str:
    """A moment in Kyiv time, saying so («05.12.2026 18:00 за київським часом»)."""
    return format_kyiv(moment)


def kyiv_cell(moment: datetime | None) -> str:
    """A moment in Kyiv time for a table whose header says the zone."""
    return format_kyiv(moment, zone=False)


def size_uk(size_bytes: int) -> str:
    """A file size as people read it: «1 МБ», «500 КБ» (decimal units, as file managers show them)."""
    if size_bytes >= 1_000_000:
        value, unit = size_bytes / 1_000_000, "МБ"
    elif size_bytes >= 1_000:
        value, unit = size_bytes / 1_000, "КБ"
    else:
        return f"{size_bytes} Б"
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} {unit}"
