"""The ОІС catalogue: the data sets a grant may name and the technical requirements an application is
reviewed against. Configuration, not code: the shipped `ois_catalogue.toml`, or the file at
`AIKOM_OIS_CATALOGUE_PATH`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("ois_catalogue.toml")
ROUNDS = ("connection", "extended")


@dataclass(frozen=True)
class DataSet:
    """A data set of the catalogue; `writable` ones may be transmitted once `receive_transmit` is in force."""

    code: str
    title: str
    writable: bool = False


@dataclass(frozen=True)
class CheckItem:
    """One technical requirement of a review round."""

    round: str
    code: str
    text: str


@dataclass(frozen=True)
class Catalogue:
    data_sets: tuple[DataSet, ...]
    # Never granted to an ОІС (enrolment, withdrawal, transfer of pupils: the state interface only).
    reserved: tuple[DataSet, ...]
    checks: tuple[CheckItem, ...]

    def data_set(self, code: str) -> DataSet | None:
        return next((d for d in self.data_sets if d.code == code), None)

    def is_reserved(self, code: str) -> bool:
        return any(d.code == code for d in self.reserved)

    def checklist(self, round_: str) -> tuple[CheckItem, ...]:
        return tuple(c for c in self.checks if c.round == round_)


def parse(text: str) -> Catalogue:
    """A catalogue from TOML text; ValueError names what is wrong."""
    raw = tomllib.loads(text)
    data_sets = tuple(
        DataSet(code=str(d["code"]), title=str(d["title"]), writable=bool(d.get("writable", False)))
        for d in raw.get("data_set", [])
    )
    reserved = tuple(DataSet(code=str(d["code"]), title=str(d["title"])) for d in raw.get("reserved", []))
    checks = tuple(
        CheckItem(round=str(c["round"]), code=str(c["code"]), text=str(c["text"]))
        for c in raw.get("check", [])
    )
    codes = [d.code for d in data_sets + reserved]
    if len(set(codes)) != len(codes):
        raise ValueError(f"a data set code is declared twice: {codes}")
    if not data_sets:
        raise ValueError("the catalogue declares no data set")
    for check in checks:
        if check.round not in ROUNDS:
            raise ValueError(f"check {check.code}: round must be one of {ROUNDS}")
    check_codes = [c.code for c in checks]
    if len(set(check_codes)) != len(check_codes):
        raise ValueError(f"a check code is declared twice: {check_codes}")
    for round_ in ROUNDS:
        if not any(c.round == round_ for c in checks):
            raise ValueError(f"the catalogue has no check for round {round_}")
    return Catalogue(data_sets=data_sets, reserved=reserved, checks=checks)


@lru_cache
def _load(path: str) -> Catalogue:
    return parse(Path(path).read_text(encoding="utf-8"))


def get_catalogue(path: str | None = None) -> Catalogue:
    """The configured catalogue (cached per path)."""
    if path is None:
        from aikom.settings import get_settings

        path = get_settings().ois_catalogue_path or str(DEFAULT_PATH)
    return _load(path)
