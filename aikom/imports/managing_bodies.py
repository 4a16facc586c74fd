"""Which ОУО manages a school, read from the register's «Найменування органу, до сфери управління якого
належить заклад освіти», and which city district a school lies in.

The body is matched to a unit of the school's oblast by the adjective its name is built on, in the
order that keeps the kinds apart:
1. a city district — «Управління освіти Печерської районної в місті Києві державної адміністрації»,
   «… виконкому Покровської районної в місті ради», «Управління освіти адміністрації Київського району
   Харківської міської ради» (the district's name, with the city's council where several cities of the
   oblast have a district of that name);
2. the oblast — «Департамент освіти і науки Одеської обласної державної адміністрації»;
3. a rayon — «Відділ освіти Ананьївської районної державної адміністрації» (only rayons the codifier still
   has: most rayon bodies of the register belong to rayons abolished in 2020, which match nothing);
4. a hromada — «Відділ освіти Городнянської міської ради» (several hromadas of one name in the oblast are
   told apart by the rayon the body names, else by where the school lies).
A body that matches nothing, or more than one unit, leaves the school managed by its hromada.

A school's district: the body's district, else the district its settlement cell names after the city
(«Київ, Печерський район»), else the district of its КОАТУУ code — each only when it is a district of the
city the school was placed in, and only when the evidence names one district.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from aikom.imports.katottg import CodifierEntry
from aikom.imports.source import normalize_name
from aikom.imports.territory import TerritoryIndex, normalize_koatuu

_COUNCIL_WORDS = r"(?:міськ|сільськ|селищн|територіальн|військово|тг\b|отг\b)"


@dataclass(frozen=True, slots=True)
class BodyMatch:
    """The unit a register's managing body names: its КАТОТТГ and its kind."""

    code: str
    kind: str  # "oblast" | "rayon" | "hromada" | "district"


def _feminine_genitive(name: str) -> str:
    """«Печерський» → «печерської», «Городнянська» → «городнянської», «Синій» → «синьої»."""
    word = normalize_name(name)
    for ending, genitive in (("ський", "ської"), ("цький", "цької"), ("ий", "ої"), ("ій", "ьої")):
        if word.endswith(ending):
            return word[: -len(ending)] + genitive
    for ending, genitive in (("ська", "ської"), ("цька", "цької"), ("а", "ої"), ("я", "ьої")):
        if word.endswith(ending):
            return word[: -len(ending)] + genitive
    return word


def _feminine(name: str) -> str:
    """«Печерський» → «печерська», «Синій» → «синя»."""
    word = normalize_name(name)
    if word.endswith("ий"):
        return word[:-2] + "а"
    if word.endswith("ій"):
        return word[:-2] + "я"
    return word


def _masculine_genitive(name: str) -> str:
    """«Київський» → «київського», «Синій» → «синього»."""
    word = normalize_name(name)
    if word.endswith("ий"):
        return word[:-2] + "ого"
    if word.endswith("ій"):
        return word[:-2] + "ього"
    return word


def _mentions(text: str, stem: str, after: str) -> bool:
    """Whether `text` has the word `stem` (whole) followed by a word matching `after`."""
    return re.search(rf"(?<![\w’-]){re.escape(stem)}\s+{after}", text) is not None


class ManagingBodyIndex:
    """Look-ups from a managing body's name and a school's address to the codifier's units."""

    def __init__(self, territory: TerritoryIndex) -> None:
        self.territory = territory
        entries = list(territory.entries.values())
        self.oblasts: dict[str, CodifierEntry] = {e.code: e for e in entries if e.category in ("O", "K")}
        self.rayons: dict[str, list[CodifierEntry]] = defaultdict(list)
        self.hromadas: dict[str, list[CodifierEntry]] = defaultdict(list)
        self.districts: dict[str, list[CodifierEntry]] = defaultdict(list)
        for e in entries:
            if e.category == "P":
                self.rayons[e.oblast].append(e)
            elif e.category == "H":
                self.hromadas[e.oblast].append(e)
            elif e.category == "B":
                self.districts[e.oblast].append(e)
        # A city with special status is also its own "hromada" (its council names it: «Київської міської»).
        for e in entries:
            if e.category == "K":
                self.hromadas[e.code].append(e)

    @staticmethod
    def council_adjective(entry: CodifierEntry, *, genitive: bool = True) -> str:
        """How a hromada's (or Kyiv's) council is named: «Городнянська» → «городнянської» (genitive) or
        «городнянська» (the council itself: «Торчинська селищна рада»); «Київ» → «київської»."""
        if entry.category == "K":
            return normalize_name(entry.name) + ("ської" if genitive else "ська")
        return _feminine_genitive(entry.name) if genitive else normalize_name(entry.name)

    @staticmethod
    def city_of(district: CodifierEntry) -> str:
        """The КАТОТТГ of the unit a district lies in: its city's hromada, or Kyiv/Sevastopol."""
        return district.hromada or district.oblast

    # -- the managing body ------------------------------------------------------------------------
    def match_body(self, body_name: str | None, *, oblast: str | None, city: str | None) -> BodyMatch | None:
        """The unit of `oblast` that `body_name` names, when exactly one; `city` is where the school lies."""
        if not body_name or oblast is None or oblast not in self.oblasts:
            return None
        text = normalize_name(body_name)
        for matcher in (self._district, self._oblast, self._rayon, self._hromada):
            found = matcher(text, oblast, city)
            if found is not None:
                return found if found.code else None
        return None

    def _names_district(self, text: str, district: CodifierEntry) -> bool:
        """«Печерської районної в місті …», «Печерська районна в місті …», or «… Київського району
        Харківської міської ради» (the district's city's council named too: rayons share these names)."""
        in_city = r"районн\w*\s+(?:в|у)\s+місті"
        if _mentions(text, _feminine_genitive(district.name), in_city):
            return True
        if _mentions(text, _feminine(district.name), in_city):
            return True
        city = self.territory.entries.get(self.city_of(district))
        return (
            city is not None
            and _mentions(text, _masculine_genitive(district.name), "район")
            and _mentions(text, self.council_adjective(city), "міськ")
        )

    def _district(self, text: str, oblast: str, city: str | None) -> BodyMatch | None:
        named = [d for d in self.districts.get(oblast, []) if self._names_district(text, d)]
        if not named:
            return None
        if len({self.city_of(d) for d in named}) > 1:
            councils = {h.code for h in self._hromadas_named(text, oblast)}
            narrowed = [d for d in named if self.city_of(d) in councils] or [
                d for d in named if self.city_of(d) == city
            ]
            named = narrowed
        return BodyMatch(named[0].code, "district") if len(named) == 1 else BodyMatch("", "district")

    def _oblast(self, text: str, oblast: str, city: str | None) -> BodyMatch | None:
        if "обласн" not in text:
            return None
        named = {
            code
            for code, e in self.oblasts.items()
            if e.category == "O" and _mentions(text, _feminine_genitive(e.name), r"обласн")
        }
        if named and named != {oblast}:
            return BodyMatch("", "oblast")  # another oblast's body: not an ОУО of this school's oblast
        return BodyMatch(oblast, "oblast")

    def _rayon(self, text: str, oblast: str, city: str | None) -> BodyMatch | None:
        if not re.search(r"районн|райдерж", text):
            return None
        named = [
            r for r in self.rayons.get(oblast, []) if _mentions(text, _feminine_genitive(r.name), r"рай")
        ]
        if len(named) == 1:
            return BodyMatch(named[0].code, "rayon")
        return BodyMatch("", "rayon")  # a rayon abolished in 2020, or a name the oblast has twice

    def _hromada(self, text: str, oblast: str, city: str | None) -> BodyMatch | None:
        named = self._hromadas_named(text, oblast)
        if len(named) > 1:
            rayons = {
                r.code
                for r in self.rayons.get(oblast, [])
                if _mentions(text, _masculine_genitive(r.name), "район")
            }
            # Narrowed step by step: by the rayon named, then by where the school lies.
            for keep in (lambda h: h.rayon in rayons, lambda h: h.code == city):
                if len(named) > 1:
                    named = [h for h in named if keep(h)] or named
        return BodyMatch(named[0].code, "hromada") if len(named) == 1 else None

    def _hromadas_named(self, text: str, oblast: str) -> list[CodifierEntry]:
        return [
            h
            for h in self.hromadas.get(oblast, [])
            if _mentions(text, self.council_adjective(h), _COUNCIL_WORDS)
            or _mentions(text, self.council_adjective(h, genitive=False), _COUNCIL_WORDS)
        ]

    # -- the school's district --------------------------------------------------------------------
    def district_of(
        self, *, city: str | None, body: BodyMatch | None, settlement: str | None, koatuu: str | None
    ) -> str | None:
        """The district of `city` the school lies in, when the register names exactly one."""
        if city is None:
            return None
        oblast = self.territory.oblast_of(city)
        districts = [d for d in self.districts.get(oblast, []) if self.city_of(d) == city]
        if not districts:
            return None
        if body is not None and body.kind == "district" and body.code in {d.code for d in districts}:
            return body.code
        found: set[str] = set()
        parts = [normalize_name(p) for p in (settlement or "").split(",")[1:]]
        for d in districts:
            if f"{normalize_name(d.name)} район" in parts:
                found.add(d.code)
        if not found and (code := normalize_koatuu(koatuu)):
            own = {d.code for d in districts}
            found = {c for c in self.territory.koatuu_codes.get(code, ()) if c in own}
        return found.pop() if len(found) == 1 else None
