"""Field types for what people type, and pydantic errors as Ukrainian messages naming each field and rule.

Every invalid field of a form is reported at once («ПІБ: обов'язкове поле; РНОКПП: …»), not only the first.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

FIELD_NAMES_UK: dict[str, str] = {
    "full_name": "ПІБ",
    "rnokpp": "РНОКПП",
    "email": "Електронна пошта",
    "order_no": "Номер наказу",
    "order_date": "Дата наказу",
    "school": "Заклад освіти",
    "new_director": "Новий керівник",
    "org": "Організація",
    "title": "Назва",
    "due_in_seconds": "Строк розгляду",
    "comment": "Коментар",
    "starts_on": "Початок відсутності",
    "ends_on": "Кінець відсутності",
    "position": "Посада",
    "name": "Назва",
    "edrpou": "ЄДРПОУ",
    "settlement": "Населений пункт",
    "edebo_id": "Код ЄДЕБО",
    "head": "Керівник",
    "official_email": "Офіційна електронна пошта",
    # the ОІС connection application
    "system_name": "Назва ОІС",
    "site": "Сайт ОІС",
    "contact_name": "Контактна особа",
    "contact_email": "Ел. пошта для листів",
    "contact_phone": "Телефон",
    "agreement_file_name": "Файл договору про приєднання",
    "agreement_base64": "Договір про приєднання",
    "agreement_signature_base64": "Підпис договору про приєднання",
    "self_assessment": "Самооцінка",
}

_RULES_UK: dict[str, str] = {
    "missing": "обов'язкове поле",
    "string_type": "потрібен текст",
    "string_too_short": "занадто коротко",
    "string_too_long": "занадто довго",
    "date_type": "потрібна дата у форматі РРРР-ММ-ДД",
    "date_parsing": "потрібна дата у форматі РРРР-ММ-ДД",
    "date_from_datetime_parsing": "потрібна дата у форматі РРРР-ММ-ДД",
    "int_parsing": "потрібне ціле число",
    "int_type": "потрібне ціле число",
    "greater_than": "має бути більше за нуль",
    "json_invalid": "файл не є коректним JSON",
    "extra_forbidden": "невідоме поле",
    "model_type": "потрібен об'єкт із полями",
    "dict_type": "потрібен об'єкт із полями",
}

# Letters (Ukrainian and Latin), apostrophes, hyphens, spaces and dots; at least two letters.
_NAME = re.compile(r"^[A-Za-zА-ЩЬЮЯЄІЇҐа-щьюяєіїґ'’ʼ.\- ]+$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_ORDER_NO = re.compile(r"^[0-9A-Za-zА-ЩЬЮЯЄІЇҐа-щьюяєіїґ№/\-. ]+$")


def _blank_to_missing(value: object) -> object:
    """An empty text field is a missing one (a form sends "" for a field left empty)."""
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("missing", "обов'язкове поле")
    return value


def check_person_name(value: str) -> str:
    """A person's full name: letters, apostrophe, hyphen, space, dot; 3–300 characters."""
    name = " ".join(value.split())
    if not 3 <= len(name) <= 300:
        raise PydanticCustomError("person_name", "від 3 до 300 символів")
    if not _NAME.match(name) or sum(ch.isalpha() for ch in name) < 2:
        raise PydanticCustomError("person_name", "лише літери, апостроф, дефіс, пробіл і крапка")
    return name


def check_email(value: str) -> str:
    """An email address of the form name@domain.tld, in Latin characters (what an SMTP relay takes)."""
    email = value.strip()
    if len(email) > 320 or not _EMAIL.match(email):
        raise PydanticCustomError("email", "потрібна адреса виду ім'я@домен.укр")
    if not email.isascii():
        # Mail relays take Latin addresses only; a Cyrillic «с» or «о» typed for a Latin one is common.
        raise PydanticCustomError("email", "лише латинські літери, цифри та знаки адреси (є кирилиця?)")
    return email


def check_rnokpp(value: str) -> str:
    """A РНОКПП: ten digits with a valid check digit."""
    from aikom.core.crypto import normalise_rnokpp
    from aikom.core.errors import ValidationFailed

    try:
        return normalise_rnokpp(value)
    except ValidationFailed as error:
        rule = error.message_uk.removeprefix("РНОКПП ").rstrip(".")
        raise PydanticCustomError("rnokpp", rule) from None


def check_order_no(value: str) -> str:
    """An order number such as «12-к» or «№ 45/2»: letters, digits, №, slash, hyphen, dot; ≤ 30."""
    number = " ".join(value.split())
    if len(number) > 30 or not _ORDER_NO.match(number):
        raise PydanticCustomError("order_no", "лише літери, цифри, №, «/», «-» і крапка, до 30 символів")
    return number


def check_not_future(value: date) -> date:
    """A date that is not later than today."""
    if value > date.today():
        raise PydanticCustomError("date_future", "не може бути в майбутньому")
    return value


PersonName = Annotated[str, BeforeValidator(_blank_to_missing), AfterValidator(check_person_name)]
Email = Annotated[str, BeforeValidator(_blank_to_missing), AfterValidator(check_email)]
Rnokpp = Annotated[str, BeforeValidator(_blank_to_missing), AfterValidator(check_rnokpp)]
OrderNumber = Annotated[str, BeforeValidator(_blank_to_missing), AfterValidator(check_order_no)]
PastDate = Annotated[date, AfterValidator(check_not_future)]
RequiredText = Annotated[str, BeforeValidator(_blank_to_missing)]


def validation_message_uk(error: ValidationError) -> str:
    """One part per invalid field, all of them: «Поле: правило; Поле: правило»."""
    parts = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ()) if not isinstance(p, int)]
        field = loc[-1] if loc else "дані"
        label = FIELD_NAMES_UK.get(field, field)
        kind = item.get("type", "")
        rule = _RULES_UK.get(kind) or (item.get("msg") if kind not in ("value_error", "") else None)
        parts.append(f"{label}: {rule or 'некоректне значення'}")
    return "; ".join(dict.fromkeys(parts)) + "."
