"""Why an import cannot start at all (a bad row never stops an import; these do, before any change)."""

from __future__ import annotations

from pathlib import Path

from aikom.core.errors import DomainError


class RegisterFileNotFound(DomainError):
    """The register file does not exist or cannot be read."""

    code = "file_not_found"

    def __init__(self, path: Path) -> None:
        super().__init__(f"Файл «{path}» не знайдено або його неможливо прочитати", path=str(path))
        self.path = path


class UnreadableRegisterFile(DomainError):
    """The file is not a text CSV in UTF-8 or Windows-1251."""

    code = "file_unreadable"

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"Файл «{path}» неможливо прочитати як CSV: {detail}", path=str(path))
        self.path = path


class UnknownRegisterFormat(DomainError):
    """The header matches none of the formats this import knows."""

    code = "unknown_format"

    def __init__(self, path: Path, expected: str) -> None:
        super().__init__(
            f"Файл «{path}» має невідомий формат: у заголовку немає очікуваних стовпців ({expected})",
            path=str(path),
        )
        self.path = path


class KatottgNotImported(DomainError):
    """Schools cannot be placed before the territorial units exist."""

    code = "katottg_not_imported"

    def __init__(self) -> None:
        super().__init__(
            "У базі немає областей і громад: спочатку імпортуйте кодифікатор "
            "(`aikom import katottg ФАЙЛ`), потім заклади освіти"
        )
