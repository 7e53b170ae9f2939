"""`python -m trainer insights` against PostgreSQL (the server the scale-out tests start):
the same conversations as tests/insights, in a database of their own, counted the same,
read through a READ ONLY transaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from scripts.serve import Bot
from tests.conftest import API_TOKEN
from tests.insights import support
from tests.scaleout.services import Postgres
from tests.support.rest import RestClient
from trainer.cli import main
from trainer.insights import open_engine

pytestmark = pytest.mark.scaleout


@pytest.fixture(scope="module")
def insights_db(postgres: Postgres, model_path: Path) -> str:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=postgres.port, user=postgres.user,
                                  password=postgres.password, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE insights")
    connection.close()
    url = postgres.url.rsplit("/", 1)[0] + "/insights"
    bot = Bot(model=model_path, api_token=API_TOKEN, env={"TRACKER_DB_URL": url}).start()
    try:
        support.play(RestClient(bot.url, API_TOKEN), support.load())
    finally:
        bot.stop()
    return url


def test_insights_on_postgresql_counts_what_was_played(insights_db: str, tmp_path: Path) -> None:
    assert main(["insights", "--db", insights_db, "--out", str(tmp_path),
                 "--now", support.FAR_FUTURE]) == 0
    data = json.loads((tmp_path / "insights.json").read_text(encoding="utf-8"))
    assert support.comparable(data) == support.expected(support.load())
    assert "scaleout-test" not in data["store"]  # the password is not written out


def test_postgresql_connection_is_read_only(insights_db: str) -> None:
    engine = open_engine(insights_db, Path("."))
    with pytest.raises(sa.exc.InternalError, match="read-only transaction"), \
            engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM events")
    engine.dispose()
