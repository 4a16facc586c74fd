"""Pure rules for linking a register branch to its hub school: what of a name identifies a school, how
alike two schools are, and when one candidate clearly wins.

A branch's name usually embeds its hub's name in the genitive («Федорівська філія Первозванівського ліцею
Первозванівської сільської ради …», «Філія … опорного закладу …»), so both names are reduced to the words
that identify a school — proper names of villages, hromadas and schools, numbers — with Ukrainian case
endings cut off, and compared with RapidFuzz's token-set ratio (100 when the hub's words all occur in the
branch's name). Generic words (ліцей, школа, ступенів, сільської ради …) and the names of rayons and
oblasts («… району», «… області»), which every school around shares, do not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from aikom.imports.source import normalize_name

# Ukrainian inflection endings, longest first; a stem keeps at least three letters.
_ENDINGS = tuple(
    sorted(
        (
            "ського", "ському", "ської", "ських", "ським", "ськими", "ський", "ська", "ське", "ську", "ськi",
            "цького", "цької", "цький", "цька", "цьке",
            "ого", "ому", "ої", "ій", "ий", "ая", "ою", "ею", "ів", "ах", "ям", "ам", "ями", "ами",
            "ії", "ія", "ію", "ей", "ею", "єю", "ним", "им",
            "а", "я", "у", "ю", "і", "и", "е", "о", "ь", "й", "є", "ї",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip
_MIN_STEM = 3

# Stems of words that name a kind of school, a level, an owner or a body: every school has them.
GENERIC_STEMS = frozenset(
    {
        "філ", "філія", "опорн", "заклад", "закла", "загальн", "середн", "освіт", "загальноосвітн",
        "ступен", "ступ", "ст", "i", "ii", "iii", "i-ii", "i-iii", "ii-iii", "і", "іі", "ііі", "і-іі",
        "і-ііі", "іі-ііі", "ліце", "ліц", "гімназ", "школ", "шк", "зош", "ззсо", "зсо", "нвк", "нво",
        "навчальн", "навчально", "виховн", "навчально-виховн", "комплекс", "об’єднанн", "обєднанн",
        "комунальн", "кз", "кнз", "заклад-ліце", "дошкільн", "дитяч", "садок", "садк", "дн", "днз", "рад",
        "сіль", "середнь", "сільськ", "загальноосвітнь", "ззс", "дошкільним", "селищн", "міськ", "районн",
        "обласн", "держав", "адміністрац", "територіальн", "громад", "об’єднан", "виконавч", "комітет",
        "відділ", "управлінн", "молод", "спорт", "культур", "туризм", "установ", "імен", "ім", "героя",
        "геро", "україн", "с", "смт", "м", "с-ще", "селищ", "сел", "міст", "початков", "базов", "профільн",
        "академічн", "спеціалізован", "навчальний", "від", "при", "з", "та", "й", "в", "у", "на", "до", "№",
        "підрозділ", "підрозділом", "початк", "гімназі", "ліцей", "пошкільн", "центр", "позашкільн",
        "позашкільної", "приватн", "державн", "спеціальн", "інклюзивн", "санаторн", "інтернат",
    }
)  # fmt: skip
# A word before one of these is a rayon's or an oblast's name (shared by hundreds of schools).
_AREA_STEMS = frozenset({"район", "райо", "област", "обл"})
# A word before one of these (then «ради») names the hromada or rayon council: the managing body and the
# hromada compare that, not the name.
_COUNCIL_STEMS = frozenset({"сіль", "сільськ", "селищн", "міськ", "районн", "обласн"})
_BRANCH_WORD = "філ"
_TOKEN = re.compile(r"[0-9]+|[a-zа-щьюяґєії’\-]+")
_NUMBER = re.compile(r"^[0-9]+$")
_SETTLEMENT_PREFIX = re.compile(r"^(?:с-ще|смт|с|м|сел)\.?\s+", re.IGNORECASE)


def stem(word: str) -> str:
    """A word without its Ukrainian case ending (a light stemmer: enough to match ліцей / ліцею)."""
    word = word.strip("-’")
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


@lru_cache(maxsize=1 << 16)
def _stems(name: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _TOKEN.findall(normalize_name(name).replace("'", "’")))


_ROMAN = re.compile(r"^[іiїvх\-]+$")


def _meaningful(word: str) -> bool:
    if _NUMBER.match(word):
        return True
    return len(word) > 1 and word not in GENERIC_STEMS and not _ROMAN.match(word)


def _split_compounds(stems: tuple[str, ...]) -> tuple[str, ...]:
    """«ступенів-дошкільний» → its meaningful parts; «тур’є-реметів» (all parts meaningful) stays whole."""
    out: list[str] = []
    for s in stems:
        parts = [stem(p) for p in s.split("-") if p]
        if len(parts) > 1 and not all(_meaningful(p) for p in parts):
            out.extend(parts)
        else:
            out.append(s)
    return tuple(out)


def _identifying(stems: tuple[str, ...]) -> list[str]:
    kept: list[str] = []
    stems = _split_compounds(stems)
    for i, s in enumerate(stems):
        following = stems[i + 1] if i + 1 < len(stems) else ""
        if not _meaningful(s) or s in _AREA_STEMS or s in _COUNCIL_STEMS:
            continue
        if following in _AREA_STEMS or following in _COUNCIL_STEMS:
            continue
        if s.startswith(_BRANCH_WORD) and not _NUMBER.match(s):
            continue
        kept.append(s)
    return kept


@lru_cache(maxsize=1 << 16)
def identifying_words(name: str) -> frozenset[str]:
    """The stems of a school's name that identify it: no generic words, no rayon, oblast or council."""
    return frozenset(_identifying(_stems(name)))


def settlement_word(settlement: str | None) -> str | None:
    """The stem of a settlement's name («с. Федорівка, … район» → «федорівк»)."""
    if not settlement:
        return None
    first = _SETTLEMENT_PREFIX.sub("", settlement.split(",")[0].strip())
    words = _TOKEN.findall(normalize_name(first).replace("'", "’")) if first else []
    return stem(words[0]) if words else None


@dataclass(frozen=True)
class BranchName:
    """A branch's name split into what names the branch itself and what names its hub."""

    own: frozenset[str]  # the branch's own village or name (its former school, if any, carries them)
    hub: frozenset[str]  # the words left to name the hub

    @classmethod
    def parse(cls, name: str, settlement: str | None) -> BranchName:
        """Words before «філія» and words like the branch's settlement are the branch's own."""
        stems = _stems(name)
        own: set[str] = set()
        position = next((i for i, s in enumerate(stems) if s.startswith(_BRANCH_WORD)), None)
        if position:
            own |= set(_identifying(stems[:position]))
        place = settlement_word(settlement)
        words = identifying_words(name)
        if place:
            own |= {w for w in words if not _NUMBER.match(w) and fuzz.ratio(w, place) >= 80}
        return cls(own=frozenset(own), hub=frozenset(words - own))


def name_similarity(branch: BranchName, hub_name: str) -> float:
    """How well a school's name names the branch's hub (0–100, RapidFuzz token set and sort ratios).

    The school's words that name the branch itself do not count: a branch's own former school (same
    village) is not its hub. Different numbers (№1 / №2) rule a school out.
    """
    hub_words = identifying_words(hub_name) - branch.own
    if not branch.hub or not hub_words:
        return 0.0
    numbers = {w for w in branch.hub if _NUMBER.match(w)}
    other_numbers = {w for w in hub_words if _NUMBER.match(w)}
    if numbers and other_numbers and not numbers & other_numbers:
        return 0.0
    left, right = " ".join(sorted(branch.hub)), " ".join(sorted(hub_words))
    return round(0.6 * fuzz.token_set_ratio(left, right) + 0.4 * fuzz.token_sort_ratio(left, right), 1)


def same_body(a: str | None, b: str | None) -> bool | None:
    """Whether two managing-body names are the same body (None when either is unknown)."""
    if not a or not b:
        return None
    return fuzz.ratio(normalize_name(a), normalize_name(b)) >= 95


@dataclass(frozen=True)
class Candidate:
    """A school that may be a branch's hub, with what speaks for it."""

    hub_id: int
    name: str
    name_score: float
    same_body: bool | None
    same_place: bool
    marked_hub: bool

    @property
    def score(self) -> float:
        """Name similarity, plus the managing body, the hromada and ЄДЕБО's hub mark (0–100)."""
        value = 0.7 * self.name_score
        value += 15 if self.same_body else 0
        value += 10 if self.same_place else 0
        value += 5 if self.marked_hub else 0
        return round(min(value, 100.0), 1)

    @property
    def fits(self) -> bool:
        """The names match, and the managing body or the hromada agrees."""
        return self.name_score >= NAME_FITS and (bool(self.same_body) or self.same_place)

    def why(self) -> str:
        """A short Ukrainian reason shown beside the candidate."""
        parts = [f"назва збігається на {self.name_score:.0f}%"]
        if self.same_body:
            parts.append("той самий орган управління")
        elif self.same_body is False:
            parts.append("інший орган управління")
        if self.same_place:
            parts.append("та сама громада")
        if self.marked_hub:
            parts.append("у ЄДЕБО позначено як опорний")
        return "; ".join(parts)


NAME_FITS = 90.0  # a name this alike, with the body or the hromada agreeing, fits
NAME_CONSIDERED = 70.0  # below this a school is not a candidate at all
CLEAR_MARGIN = 10.0  # how far the one fitting candidate must lead the next
MAX_CANDIDATES = 5


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates worth showing, best first (ties: a marked hub, then the lower id)."""
    kept = [c for c in candidates if c.name_score >= NAME_CONSIDERED]
    kept.sort(key=lambda c: (-c.score, not c.marked_hub, c.hub_id))
    return kept[:MAX_CANDIDATES]


def unique_fit(ranked: list[Candidate]) -> Candidate | None:
    """The hub to link automatically: exactly one candidate fits and it clearly beats the next."""
    fitting = [c for c in ranked if c.fits]
    if len(fitting) != 1 or fitting[0] is not ranked[0]:
        return None
    best = ranked[0]
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    return best if best.score - runner_up >= CLEAR_MARGIN else None
