"""The report every import returns: counts, refused rows with reasons, warnings, schools to place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

# Called as progress(stage, done, total); the CLI draws it, tests ignore it.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """A progress callback that shows nothing."""


# Ukrainian labels of counts and machine codes for the human summary (the JSON keeps the codes).
LABELS_UK = {
    "O": "області (O)",
    "K": "міста зі спеціальним статусом (K)",
    "P": "райони (P)",
    "H": "громади (H)",
    "M": "міста (M, не імпортуються)",
    "X": "селища (X, не імпортуються)",
    "C": "села (C, не імпортуються)",
    "B": "райони в містах (B)",
    "managed_by_oblast": "в управлінні області",
    "managed_by_rayon": "в управлінні району",
    "managed_by_hromada": "в управлінні громади (міста)",
    "managed_by_district": "в управлінні району в місті",
    "managed_by_other": "орган управління не визначено",
    "managing_body_matched": "орган управління розпізнано за реєстром",
    "managing_body_unmatched": "орган управління з реєстру не розпізнано (залишено громаду)",
    "placed_under_district": "розміщено в районі міста",
    "not_in_file": "одиниці в базі, яких немає у файлі",
    "school": "заклади",
    "branch": "філії",
    "status_active": "діють",
    "status_liquidated": "ліквідовані",
    "status_reorganized": "реорганізовані",
    "status_suspended": "призупинені",
    "bad_check_digit": "неправильна контрольна цифра ЄДРПОУ",
    "edrpou_lost_zeros": "ЄДРПОУ втратив початкові нулі",
    "placeholder_edrpou": "ЄДРПОУ-заповнювач",
    "missing_edrpou": "немає ЄДРПОУ",
    "invalid_edrpou": "ЄДРПОУ не з цифр",
    "duplicate_edrpou": "повторений ЄДРПОУ",
    "duplicate_row": "повторений рядок",
    "duplicate_edebo_id": "повторений код ЄДЕБО",
    "missing_edebo_id": "немає коду ЄДЕБО",
    "invalid_edebo_id": "код ЄДЕБО не з цифр",
    "missing_name": "немає назви",
    "edrpou_of_body": "ЄДРПОУ органу управління",
    "db_rejected": "відхилено базою даних",
    "bad_katottg": "неправильний код КАТОТТГ",
    "unknown_category": "невідома категорія",
    "duplicate_katottg": "повторений код КАТОТТГ",
    "parent_missing": "немає вищої одиниці",
    "bad_row": "неповний рядок",
}


def _labelled(counts: dict[str, int]) -> str:
    return ", ".join(f"{LABELS_UK.get(k, k)} — {v}" for k, v in counts.items())


class RefusedRow(BaseModel):
    """A row the import did not take, with a machine code and a Ukrainian reason."""

    line: int
    code: str
    reason: str
    name: str | None = None
    value: str | None = None


class RowWarning(BaseModel):
    """A row that was imported, but with something an admin should know."""

    line: int
    code: str
    message: str


class PlacementIssue(BaseModel):
    """A school that could not be placed under its hromada (or hub) and waits for an admin."""

    line: int
    unit_id: int | None = None
    name: str
    edrpou: str | None = None
    edebo_id: str | None = None
    placed_under_id: int | None = None
    placed_under: str | None = None
    placed_under_level: str | None = None
    note: str


class ImportReport(BaseModel):
    """What one import did; `to_json()` is the `--json` output of the CLI."""

    kind: str
    file: str
    format: str | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    placement: dict[str, int] = Field(default_factory=dict)
    refused_rows: list[RefusedRow] = Field(default_factory=list)
    warnings: list[RowWarning] = Field(default_factory=list)
    needs_placement: list[PlacementIssue] = Field(default_factory=list)

    @property
    def refused(self) -> int:
        """How many rows were refused."""
        return len(self.refused_rows)

    @property
    def changed(self) -> int:
        """How many units were created or updated."""
        return self.created + self.updated

    def refuse(
        self, line: int, code: str, reason: str, *, name: str | None = None, value: str | None = None
    ) -> None:
        """Record a refused row."""
        self.refused_rows.append(RefusedRow(line=line, code=code, reason=reason, name=name, value=value))

    def warn(self, line: int, code: str, message: str) -> None:
        """Record a warning about an imported row."""
        self.warnings.append(RowWarning(line=line, code=code, message=message))

    def refused_by_code(self) -> dict[str, int]:
        """Refused rows counted per machine code."""
        return dict(Counter(r.code for r in self.refused_rows).most_common())

    def to_json(self) -> dict[str, Any]:
        """The JSON report: counts first, then every refused row, warning and school to place."""
        self.refused_rows.sort(key=lambda r: r.line)
        self.warnings.sort(key=lambda w: w.line)
        self.needs_placement.sort(key=lambda p: p.line)
        return {
            "import": self.kind,
            "file": self.file,
            "format": self.format,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "counts": self.counts,
            "placement": self.placement,
            "refused_by_code": self.refused_by_code(),
            "warnings_by_code": dict(Counter(w.code for w in self.warnings).most_common()),
            "needs_placement_count": len(self.needs_placement),
            "refused_rows": [r.model_dump() for r in self.refused_rows],
            "warnings": [w.model_dump() for w in self.warnings],
            "needs_placement": [p.model_dump() for p in self.needs_placement],
        }

    def summary_uk(self) -> str:
        """A short Ukrainian summary for people."""
        lines = [
            f"Файл: {self.file}" + (f" (формат: {self.format})" if self.format else ""),
            f"Рядків: {self.rows}; створено: {self.created}; оновлено: {self.updated}; "
            f"без змін: {self.unchanged}; відхилено: {self.refused}",
        ]
        if self.counts:
            lines.append("Кількість: " + _labelled(self.counts))
        if self.refused_rows:
            lines.append("Відхилено за причинами: " + _labelled(self.refused_by_code()))
        if self.warnings:
            lines.append(f"Попереджень: {len(self.warnings)}")
        if self.needs_placement:
            lines.append(
                f"Потребують розміщення адміністратором: {len(self.needs_placement)} "
                "(повний список — з параметром --json)"
            )
        return "\n".join(lines)
