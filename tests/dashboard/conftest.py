"""Dashboard tests: a database of their own with a small world and demo persons, used by AppTest."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from aikom.db import unit_of_work
from aikom.demo.persons import DemoPerson, seed_demo
from aikom.migrate import upgrade_database
from aikom.settings import Settings, get_settings
from tests import factories as f
from tests.conftest import _server_url


@dataclass
class DashboardWorld:
    """What the dashboard tests work with."""

    url: str
    settings: Settings
    persons: dict[str, DemoPerson]
    school_id: int


def _clear_caches() -> None:
    import aikom.db

    get_settings.cache_clear()
    aikom.db.get_engine.cache_clear()
    aikom.db.session_factory.cache_clear()


@pytest.fixture(scope="package")
def dashboard_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardWorld]:
    """A migrated database with national → … → school, demo persons with keys; env points at it."""
    server = make_url(_server_url(tmp_path_factory.mktemp("pg-dash")))
    name = f"aikom_dash_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    data_dir = tmp_path_factory.mktemp("dash-data")
    settings = Settings(database_url=url, data_dir=data_dir, prefect_api_url="http://127.0.0.1:9/api")
    upgrade_database(settings, url)
    saved = {k: os.environ.get(k) for k in ("AIKOM_DATABASE_URL", "AIKOM_DATA_DIR", "AIKOM_PREFECT_API_URL")}
    os.environ.update(
        {
            "AIKOM_DATABASE_URL": url,
            "AIKOM_DATA_DIR": str(data_dir),
            "AIKOM_PREFECT_API_URL": settings.prefect_api_url,
        }
    )
    _clear_caches()
    with unit_of_work(url) as session:
        units = f.cascade(session)
        units["school"].edrpou = "20077720"
        units["school"].name = "Ліцей № 1 імені Лесі Українки"
        units["school"].managing_body_id = units["hromada"].id
        persons = seed_demo(session=session, settings=settings)
        school_id = units["school"].id
    try:
        yield DashboardWorld(
            url=url, settings=settings, persons={p.key: p for p in persons}, school_id=school_id
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _clear_caches()
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


APP = str(Path(__file__).resolve().parents[2] / "aikom" / "dashboard" / "app.py")
