"""A long Ukrainian subject arrives exactly as written: no space lost where the header is folded."""

from __future__ import annotations

import email
import email.policy

import pytest

from aikom.mail.delivery import encode_subject, message_bytes
from aikom.models import EmailMessage

SUBJECTS = [
    "АІКОМ: потрібне ваше рішення — Заступник Руденко Андрій Васильович: підтвердити повноваження чи "
    "деактивувати",
    'АІКОМ: «Заміна керівника закладу освіти: Комунальний заклад "Харківська загальноосвітня школа '
    'І-ІІІ ступенів №175"» — завершено',
    "Коротко",
    "Надзвичайнодовгесловобезжодногопробілуякетребарозрізатипосерединіміжсимволами і далі",
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_subject_decodes_to_what_was_written(subject: str) -> None:
    header = f"Subject: {encode_subject(subject)}\r\n\r\n".encode("ascii")
    parsed = email.message_from_bytes(header, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject
    assert all(len(line) <= 78 for line in header.decode().split("\r\n"))


def test_a_sent_message_carries_the_whole_subject_and_its_parts() -> None:
    row = EmailMessage(
        id=7,
        idempotency_key="k",
        to_address="hanna@example.org",
        template="person_notice",
        variables={
            "recipient_name": "Руденко Андрій Васильович",
            "subject": "ваші повноваження в «Ліцей № 1 імені Лесі Українки» припинено",
            "lines": ["Перший рядок.", "Другий рядок."],
        },
    )
    parsed = email.message_from_bytes(
        message_bytes(row, "АІКОМ <no-reply@aikom.local>"), policy=email.policy.default
    )
    assert str(parsed["Subject"]) == "АІКОМ: ваші повноваження в «Ліцей № 1 імені Лесі Українки» припинено"
    assert parsed["Message-ID"] == "<outbox-7@aikom.local>"
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None and "Другий рядок." in text.get_content()
