"""Reading register files (CSV with their physical line numbers) and normalising the text in them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aikom.imports.errors import RegisterFileNotFound, UnreadableRegisterFile

# Values the open-data exports use for "nothing here".
EMPTY_MARKERS = frozenset({"", "null", "none", "! not applicable", "-", "--", "---", "- - -", "н/д"})

# Latin letters typed by mistake inside Cyrillic names (a common fault of the registers).
_LOOKALIKES = str.maketrans(
    {"a": "а", "e": "е", "i": "і", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "k": "к", "m": "м"}
)
_APOSTROPHES = re.compile(r"[\'`ʼ′‘’\u02bc\u2019]")
_QUOTES = re.compile(r"[\"«»“”„]")
_PARENTHESES = re.compile(r"\([^)]*\)")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CsvFile:
    """A parsed CSV: its header and its records, each with the line number it starts on."""

    path: Path
    header: list[str]
    records: list[tuple[int, list[str]]]


def read_csv(path: Path) -> CsvFile:
    """Read a `;`- or `,`-separated CSV in UTF-8 (with or without BOM) or Windows-1251."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RegisterFileNotFound(path) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1251")
        except UnicodeDecodeError as exc:
            raise UnreadableRegisterFile(path, "кодування не UTF-8 і не Windows-1251") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise UnreadableRegisterFile(path, "файл порожній") from None
    except csv.Error as exc:
        raise UnreadableRegisterFile(path, str(exc)) from exc
    records: list[tuple[int, list[str]]] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise UnreadableRegisterFile(path, f"рядок {start}: {exc}") from exc
    return CsvFile(path=path, header=header, records=records)


def clean(value: str | None) -> str | None:
    """Trim a cell; the exports' markers of an empty value become None."""
    if value is None:
        return None
    value = _SPACES.sub(" ", value).strip()
    return None if value.lower() in EMPTY_MARKERS else value


@lru_cache(maxsize=1 << 16)
def normalize_name(value: str) -> str:
    """A comparison key of a name: case, apostrophes, quotes, Latin look-alikes and spaces do not matter."""
    value = _PARENTHESES.sub(" ", value.lower())
    value = _APOSTROPHES.sub("’", value)
    value = _QUOTES.sub(" ", value).translate(_LOOKALIKES)
    return _SPACES.sub(" ", value).strip(" .,")


def records_as_dicts(csv_file: CsvFile) -> Iterator[tuple[int, dict[str, str]]]:
    """Records keyed by header names (missing cells are empty strings)."""
    header = csv_file.header
    width = len(header)
    for line, record in csv_file.records:
        if len(record) < width:
            record = record + [""] * (width - len(record))
        yield line, dict(zip(header, record, strict=False))
