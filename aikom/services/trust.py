"""The configured trust list of qualified CAs, reloaded when its folder changes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from aikom.core.kep.trust import TrustList
from aikom.settings import Settings


def _fingerprint(directory: Path) -> tuple[tuple[str, float, int], ...]:
    if not directory.is_dir():
        return ()
    return tuple(
        sorted((p.name, p.stat().st_mtime, p.stat().st_size) for p in directory.iterdir() if p.is_file())
    )


@lru_cache(maxsize=8)
def _load(directory: Path, fingerprint: tuple[tuple[str, float, int], ...]) -> TrustList:
    return TrustList.load(directory)


def current_trust_list(settings: Settings) -> TrustList:
    """The trust list in `settings.effective_trust_dir` (a new CRL there is picked up at once)."""
    directory = settings.effective_trust_dir
    return _load(directory, _fingerprint(directory))
