"""Two Rasa replicas sharing a real PostgreSQL tracker store and a real Redis lock store.

PostgreSQL and Redis come from Debian's packages (`postgresql`, `redis-server`); without
them the scale-out tests are skipped with the reason. The replicas are started in
parallel (as a deployment would), so concurrent table creation is exercised too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.serve import Bot
from tests.conftest import API_TOKEN
from tests.scaleout.services import Postgres, Redis, missing_binaries


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scaleout: needs PostgreSQL and Redis (Debian packages)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds; runs by default")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install postgresql redis-server)")
    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install postgresql redis-server)")
    server = Redis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def replicas(model_path: Path, postgres: Postgres, redis_server: Redis) -> Iterator[list[Bot]]:
    """Two `rasa run` replicas + one action server, both replicas on the same stores."""
    env = {"TRACKER_DB_URL": postgres.url, "REDIS_URL": redis_server.url}
    first = Bot(model=model_path, env=env, api_token=API_TOKEN)
    first.start_actions()
    second = Bot(model=model_path, env=env, api_token=API_TOKEN, actions_port=first.actions_port)
    errors: list[BaseException] = []

    def start(bot: Bot) -> None:
        try:
            bot.start_rasa()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(bot,)) for bot in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if errors:
            raise RuntimeError(f"a replica did not start: {errors[0]}\n{first.logs()}\n{second.logs()}")
        yield [first, second]
    finally:
        second.stop_rasa()
        first.stop()
