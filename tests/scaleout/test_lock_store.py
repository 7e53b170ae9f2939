"""The Redis lock store shared by replicas, against a real redis-server.

Rasa's RedisLockStore reads a lock, changes it in Python and writes it back, so two
replicas issuing tickets at the same moment overwrite each other (measured here: 4
clients issuing 800 tickets left 262 in the lock) and both may process one conversation
at once. components.stores.AtomicRedisLockStore makes each change a Redis transaction.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from rasa.core.lock_store import InMemoryLockStore

from components.stores import AtomicRedisLockStore, EnvLockStore
from tests.scaleout.services import Redis

pytestmark = pytest.mark.scaleout


def replicas(server: Redis, count: int) -> list[AtomicRedisLockStore]:
    """One lock store per simulated replica, each with its own connection."""
    return [AtomicRedisLockStore(host="127.0.0.1", port=server.port, key_prefix="locktest")
            for _ in range(count)]


def test_env_lock_store_is_atomic_redis_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:secret@redis.internal:6380/2")
    store = EnvLockStore().store
    assert isinstance(store, AtomicRedisLockStore)
    kwargs = store.red.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "redis.internal", 6380, 2, "secret")
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(EnvLockStore().store, InMemoryLockStore)


def test_tickets_issued_at_once_by_several_replicas_are_all_kept(redis_server: Redis) -> None:
    stores = replicas(redis_server, 4)
    issued: list[int] = []

    def issue(store: AtomicRedisLockStore) -> None:
        for _ in range(60):
            issued.append(store.issue_ticket("same-conversation"))

    threads = [threading.Thread(target=issue, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lock = stores[0].get_lock("same-conversation")
    assert len(issued) == len(set(issued)) == 240
    assert sorted(ticket.number for ticket in lock.tickets) == sorted(issued)
    for ticket in issued:
        stores[ticket % 4].cleanup("same-conversation", ticket)
    assert stores[0].get_lock("same-conversation") is None


def test_only_one_replica_at_a_time_holds_a_conversation(redis_server: Redis) -> None:
    stores = replicas(redis_server, 4)
    holders = 0
    most_holders = 0
    done = 0
    guard = threading.Lock()

    async def turns(store: AtomicRedisLockStore) -> None:
        nonlocal holders, most_holders, done
        for _ in range(15):
            async with store.lock("busy-conversation", wait_time_in_seconds=0.005):
                with guard:
                    holders += 1
                    most_holders = max(most_holders, holders)
                await asyncio.sleep(0.002)
                with guard:
                    holders -= 1
                    done += 1

    threads = [threading.Thread(target=asyncio.run, args=(turns(store),)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert done == 60
    assert most_holders == 1
    assert stores[0].get_lock("busy-conversation") is None
