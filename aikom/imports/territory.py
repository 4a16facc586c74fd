"""Where a school lies: КОАТУУ (old code) → КАТОТТГ (new code) → its hromada, else by settlement name.

An in-memory index of the codifier and the КОАТУУ → КАТОТТГ comparison table, built once per import
(about 60 thousand rows, a fraction of a second). The order of evidence, best first:
1. the school's КОАТУУ in the comparison table (also the code of its village council or city district);
2. the settlement's name within the oblast, narrowed by the old rayon (first five КОАТУУ digits) and by
   the hromada council named in the school's own name («… Вараської міської ради»);
3. the hromada council named in the school's name alone;
4. otherwise the lowest unit that is certain — the rayon, else the oblast — with a note for an admin.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from aikom.imports.errors import UnknownRegisterFormat
from aikom.imports.katottg import SETTLEMENT_CATEGORIES, CodifierEntry, read_codifier
from aikom.imports.source import normalize_name, read_csv

_SETTLEMENT_PREFIX = re.compile(r"^(?:смт\.?|с-ще|сщ\.|с\.|м\.|сел\.|селище|село|місто)\s*")
_OWNER_COUNCIL = re.compile(
    r"((?:[\w’-]+ ){1,2}?)(?:міської|сільської|селищної)\s+(?:ради|територіальної громади|тг|отг)"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A unit a school can be placed under: its КАТОТТГ and what kind of unit it is."""

    code: str
    kind: str  # "hromada" | "city" | "rayon" | "oblast"


@dataclass(frozen=True, slots=True)
class Placement:
    """The result of placing one school: where, how it was found, and why an admin must look."""

    code: str | None  # КАТОТТГ of the unit; None only when not even the oblast is known
    kind: str  # "hromada" | "city" | "rayon" | "oblast" | "national"
    method: str
    note: str | None = None

    @property
    def definite(self) -> bool:
        """Whether the school sits where it belongs (its hromada, or a special-status city)."""
        return self.kind in ("hromada", "city")


def normalize_koatuu(value: str | None) -> str | None:
    """A 10-digit КОАТУУ; a 9-digit code lost its leading zero (oblasts 01–07) and gets it back."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 9:
        digits = "0" + digits
    return digits if len(digits) == 10 else None


def settlement_name(value: str | None) -> str | None:
    """The settlement's own name from «с. Лемешівка, Городнянський район, …» or «Київ, Дніпровський район»."""
    if not value:
        return None
    first = _SETTLEMENT_PREFIX.sub("", value.split(",")[0].strip())
    name = normalize_name(first)
    return name or None


def _genitive(name: str) -> str:
    """«Вараська» → «вараської»: how a hromada's council is named inside a school's name."""
    words = []
    for word in normalize_name(name).split(" "):
        if word.endswith("а"):
            word = word[:-1] + "ої"
        elif word.endswith("я"):
            word = word[:-1] + "ьої"
        words.append(word)
    return " ".join(words)


class TerritoryIndex:
    """Look-ups from old КОАТУУ codes, oblast and settlement names to the codifier's units."""

    def __init__(self, entries: list[CodifierEntry], comparison: list[tuple[str, str]]) -> None:
        self.entries = {e.code: e for e in entries}
        self.special_cities = {e.code for e in entries if e.category == "K"}
        self.hromada_by_prefix = {e.code[:9]: e.code for e in entries if e.category == "H"}
        self.oblast_by_name: dict[str, str] = {}
        for e in entries:
            if e.category in ("O", "K"):
                self.oblast_by_name[normalize_name(e.name)] = e.code
                if "крим" in e.name.lower():
                    self.oblast_by_name["крим"] = e.code
                    self.oblast_by_name["ар крим"] = e.code
        self.settlements: dict[tuple[str, str], list[str]] = defaultdict(list)
        for e in entries:
            if e.category in SETTLEMENT_CATEGORIES:
                self.settlements[(e.oblast, normalize_name(e.name))].append(e.code)
        self.owner_hromadas: dict[tuple[str, str], set[str]] = defaultdict(set)
        for e in entries:
            if e.category == "H":
                self.owner_hromadas[(e.oblast, _genitive(e.name))].add(e.code)

        self.koatuu_codes: dict[str, set[str]] = defaultdict(set)
        self.koatuu_of: dict[str, set[str]] = defaultdict(set)
        self.rayons_by_old_rayon: dict[str, set[str]] = defaultdict(set)
        oblast_votes: dict[str, Counter[str]] = defaultdict(Counter)
        for katottg, koatuu in comparison:
            self.koatuu_codes[koatuu].add(katottg)
            self.koatuu_of[katottg].add(koatuu)
            target = self.target_of(katottg)
            if target is None:
                continue
            oblast_votes[koatuu[:2]][self.oblast_of(target.code)] += 1
            if target.kind == "hromada":
                rayon = self.entries[target.code].rayon
                if rayon:
                    self.rayons_by_old_rayon[koatuu[:5]].add(rayon)
        self.oblast_by_koatuu = {prefix: votes.most_common(1)[0][0] for prefix, votes in oblast_votes.items()}

    @classmethod
    def load(cls, codifier_path: Path, comparison_path: Path) -> TerritoryIndex:
        """Build the index from the codifier and the КОАТУУ → КАТОТТГ comparison table."""
        return cls(read_codifier(codifier_path), read_comparison(comparison_path))

    def oblast_of(self, code: str) -> str:
        """The oblast-level КАТОТТГ (O or K) of any code."""
        entry = self.entries.get(code)
        if entry is None and (hromada := self.hromada_by_prefix.get(code[:9])):
            entry = self.entries[hromada]
        return entry.oblast if entry else code

    def target_of(self, code: str) -> Target | None:
        """The unit a school at this КАТОТТГ belongs to (settlements and districts → their hromada)."""
        entry = self.entries.get(code)
        if entry is None:
            hromada = self.hromada_by_prefix.get(code[:9])
            return Target(hromada, "hromada") if hromada else None
        if entry.oblast in self.special_cities:
            return Target(entry.oblast, "city")
        if entry.category == "O":
            return Target(code, "oblast")
        if entry.category == "P":
            return Target(code, "rayon")
        if entry.hromada:
            return Target(entry.hromada, "hromada")
        return None

    def oblast_code(self, region: str | None, koatuu: str | None) -> str | None:
        """The oblast from the region's name («Вінницька область», «м.Київ»), else from the КОАТУУ."""
        if region:
            key = normalize_name(region)
            key = re.sub(r"\b(?:область|обл)\b|^(?:м\.|місто)\s*", " ", key)
            key = " ".join(key.split())
            if key in self.oblast_by_name:
                return self.oblast_by_name[key]
        if koatuu:
            return self.oblast_by_koatuu.get(koatuu[:2])
        return None

    def resolve(
        self,
        *,
        koatuu: str | None,
        region: str | None,
        settlement: str | None,
        school_name: str,
    ) -> Placement:
        """Find the unit to place a school under; see the module docstring for the order of evidence."""
        code = normalize_koatuu(koatuu)
        oblast = self.oblast_code(region, code)
        rayon_hint: str | None = None

        if code:
            for method, candidate in self._koatuu_candidates(code):
                targets = {t for c in self.koatuu_codes.get(candidate, ()) if (t := self.target_of(c))}
                if oblast:
                    targets = {t for t in targets if self.oblast_of(t.code) == oblast}
                if len(targets) == 1:
                    target = targets.pop()
                    if target.kind in ("hromada", "city"):
                        return Placement(target.code, target.kind, method)
                    if target.kind == "rayon":
                        rayon_hint = target.code

        if oblast in self.special_cities:
            return Placement(oblast, "city", "region")
        if oblast is None:
            return Placement(
                None,
                "national",
                "none",
                "Не вдалося визначити навіть область: немає придатного коду КОАТУУ і регіону",
            )

        name = settlement_name(settlement)
        candidates = self.settlements.get((oblast, name), []) if name else []
        hromadas = {h for c in candidates if (h := self.entries[c].hromada)}
        owners = self._owner_hromadas(oblast, school_name)
        if len(hromadas) == 1:
            return Placement(hromadas.pop(), "hromada", "name")
        if len(hromadas) > 1:
            narrowed = hromadas
            if code:
                by_rayon = {
                    h
                    for c in candidates
                    if (h := self.entries[c].hromada)
                    and any(k[:5] == code[:5] for k in self.koatuu_of.get(c, ()))
                }
                if len(by_rayon) == 1:
                    return Placement(by_rayon.pop(), "hromada", "name_old_rayon")
                narrowed = by_rayon or hromadas
            by_owner = narrowed & owners
            if len(by_owner) == 1:
                return Placement(by_owner.pop(), "hromada", "name_owner")
        elif len(owners) == 1:
            return Placement(owners.pop(), "hromada", "owner")

        why = self._why(code, name, settlement, len(hromadas))
        rayons = {r for c in candidates if (r := self.entries[c].rayon)}
        if hromadas and len(rayons) == 1:
            rayon_hint = rayons.pop()
        elif code and len(old := self.rayons_by_old_rayon.get(code[:5], set())) == 1:
            rayon_hint = next(iter(old))
        if rayon_hint and self.oblast_of(rayon_hint) == oblast:
            return Placement(rayon_hint, "rayon", "rayon", f"{why}; заклад тимчасово розміщено в районі")
        return Placement(oblast, "oblast", "oblast", f"{why}; заклад тимчасово розміщено в області")

    @staticmethod
    def _koatuu_candidates(code: str) -> list[tuple[str, str]]:
        candidates = [("koatuu", code)]
        if code[8:] != "00":
            candidates.append(("koatuu_council", code[:8] + "00"))
        if code[5] == "3" and code[5:] != "00000":
            # A city district: the city's own code.
            candidates.append(("koatuu_city", code[:5] + "00000"))
        return candidates

    def _owner_hromadas(self, oblast: str, school_name: str) -> set[str]:
        """Hromadas whose council the school's name mentions («… Вараської міської ради»)."""
        found: set[str] = set()
        for match in _OWNER_COUNCIL.finditer(normalize_name(school_name)):
            words = match.group(1).split()
            for size in (2, 1):
                if len(words) >= size:
                    found |= self.owner_hromadas.get((oblast, " ".join(words[-size:])), set())
        return found

    @staticmethod
    def _why(code: str | None, name: str | None, raw_settlement: str | None, matches: int) -> str:
        parts = [f"КОАТУУ {code} немає в таблиці відповідності" if code else "немає коду КОАТУУ"]
        if not name:
            parts.append("населений пункт не вказано")
        elif matches == 0:
            parts.append(f"населений пункт «{raw_settlement}» не знайдено в кодифікаторі області")
        else:
            parts.append(f"населений пункт «{raw_settlement}» є в {matches} громадах області")
        return "Громаду не визначено: " + ", ".join(parts)


def read_comparison(path: Path) -> list[tuple[str, str]]:
    """The comparison table as (КАТОТТГ, КОАТУУ) pairs; rows without a КОАТУУ code are skipped."""
    csv_file = read_csv(path)
    header = [h.lower() for h in csv_file.header]
    if len(header) < 2 or "кодифікатор" not in header[0] or "коату" not in header[1]:
        raise UnknownRegisterFormat(path, "Кодифікатор; Код об’єкта КОАТУУ; Категорія об’єкта; Назва об’єкта")
    pairs: list[tuple[str, str]] = []
    for _line, record in csv_file.records:
        if len(record) < 2:
            continue
        katottg = record[0].strip()
        koatuu = normalize_koatuu(record[1].strip()) if record[1].strip().isdigit() else None
        if koatuu and katottg.startswith("UA"):
            pairs.append((katottg, koatuu))
    return pairs
