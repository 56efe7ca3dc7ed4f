"""Database outages, end to end on a PostgreSQL cluster of the test's own that it restarts, stops and starts.

While PostgreSQL is unreachable the API answers 503 ``service_unavailable`` with ``Retry-After``
(not a 500); after a restart the pool replaces its dead connections, so no request fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from inventory_site.db_outage import is_database_unavailable
from tests.processes import ROOT, OwnPostgres, free_port, own_postgres, running, service_env, wait_until

UNAVAILABLE = {"code": "service_unavailable", "detail": "The database is unavailable; retry shortly."}
INITIAL_STOCK = 100

# Run in the server's settings against the fresh cluster: a warehouse user with a token, one stocked item.
SETUP = f"""
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from inventory.models import InventoryItem, Product, Warehouse
user = User.objects.create_user("outage", password="unused-password-1")
user.groups.add(Group.objects.get(name="warehouse"))
warehouse = Warehouse.objects.create(code="OUT", name="Outage")
product = Product.objects.create(sku="OUT-1", name="Outage widget")
item = InventoryItem.objects.create(product=product, warehouse=warehouse, available_quantity={INITIAL_STOCK})
print(Token.objects.create(user=user).key, warehouse.pk, product.pk, item.pk)
"""


@dataclass
class Stack:
    cluster: OwnPostgres
    port: int
    token: str
    warehouse_id: int
    product_id: int
    item_id: int


@dataclass
class Answer:
    status: int
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(stack: Stack, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Answer:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {stack.token}", "Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def list_products(stack: Stack) -> Answer:
    return call(stack, "GET", "/api/v1/products/")


def add_one(stack: Stack) -> Answer:
    body = {"warehouse_id": stack.warehouse_id, "quantity_change": 1, "transaction_type": "purchase"}
    return call(stack, "POST", f"/api/v1/inventory/{stack.product_id}/adjust", body)


def read_then_write(stack: Stack, n: int) -> Answer:
    """Every other request changes stock, so both reads and writes meet the dead connections."""
    return add_one(stack) if n % 2 else list_products(stack)


def on_hand(stack: Stack) -> int:
    answer = call(stack, "GET", f"/api/v1/inventory/{stack.product_id}?warehouse_id={stack.warehouse_id}")
    assert answer.status == 200, answer
    return answer.json()["total_quantity"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("db-outage")
    with own_postgres() as cluster:
        cluster.create_database("inventory")
        env = service_env(
            DATABASE_URL=cluster.url("inventory"),
            CACHE_KEY_PREFIX=f"{settings.KEY_PREFIX}-outage",  # its ids would collide with the test database's
            DB_POOL_SIZE="10",  # the production default, not the test suite's 60
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
        created = subprocess.run(
            [*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60
        )
        token, *ids = created.stdout.split()[-4:]
        port = free_port()
        uvicorn = ["uvicorn", "inventory_site.asgi:application", "--port", str(port), "--workers", "1"]
        with running(uvicorn, env, logs / "server.log"):
            result = Stack(cluster, port, token, *map(int, ids))

            def healthy() -> bool:
                try:
                    return call(result, "GET", "/health").status == 200
                except OSError:
                    return False

            wait_until(healthy, timeout=60, message="the server to answer /health")
            yield result


@pytest.mark.slow
def test_a_postgres_restart_fails_no_request(stack):
    before = on_hand(stack)
    # Concurrent requests make the pool open all its connections, which the restart then kills.
    with ThreadPoolExecutor(12) as threads:
        warm = [answer for _ in range(3) for answer in threads.map(lambda n: read_then_write(stack, n), range(24))]
    assert Counter(answer.status for answer in warm) == {200: len(warm)}

    stack.cluster.restart("fast")
    # One request after another: each would meet the next dead connection at the head of the pool.
    after = [read_then_write(stack, n) for n in range(40)]

    statuses = Counter(answer.status for answer in after)
    failed = [answer for answer in after if answer.status != 200]
    assert statuses == {200: 40}, f"{statuses}; first failure: {failed[:1]}"
    # Every write happened exactly once.
    assert on_hand(stack) == before + (len(warm) + len(after)) // 2


@pytest.mark.slow
def test_a_connection_lost_inside_a_request_is_a_503_that_changes_nothing(stack):
    before = on_hand(stack)
    with (
        psycopg.connect(stack.cluster.url("inventory")) as holder,
        psycopg.connect(stack.cluster.url("inventory"), autocommit=True) as watcher,
        ThreadPoolExecutor(1) as thread,
    ):
        # Hold the item's row lock so the adjustment waits inside its transaction, then kill its connection.
        holder.execute("SELECT 1 FROM inventory_inventoryitem WHERE id = %s FOR UPDATE", [stack.item_id])
        pending = thread.submit(add_one, stack)

        def waiting_backend() -> int | None:
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = 'inventory' AND wait_event_type = 'Lock'"
            ).fetchone()
            return row[0] if row else None

        pid = wait_until(waiting_backend, timeout=30, message="the adjustment to wait for the row lock")
        watcher.execute("SELECT pg_terminate_backend(%s)", [pid])
        answer = pending.result(timeout=60)
        holder.rollback()

    assert answer.status == 503, answer
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == UNAVAILABLE
    assert answer.headers["Retry-After"] == "5"
    assert on_hand(stack) == before
    assert add_one(stack).status == 200  # the dead connection is gone from the pool
    assert on_hand(stack) == before + 1


@pytest.mark.slow
def test_while_postgres_is_down_requests_get_503_and_work_again_once_it_is_back(stack):
    assert list_products(stack).status == 200
    admin_session = {"Cookie": "sessionid=0123456789abcdefghijklmnopqrstuv"}  # the admin must load it from the db
    stack.cluster.stop("fast")
    try:
        with ThreadPoolExecutor(4) as threads:
            read, write, admin, health = threads.map(
                lambda send: send(),
                [
                    lambda: list_products(stack),
                    lambda: add_one(stack),
                    lambda: call(stack, "GET", "/admin/", headers=admin_session),
                    lambda: call(stack, "GET", "/health"),
                ],
            )
        # Keep it down a while longer (each refusal waits for the pool's timeout): by now the pool's
        # reconnect attempts back off by seconds, and must not outlast the outage.
        later = [list_products(stack), add_one(stack)]
    finally:
        stack.cluster.start()

    for answer in (read, write, *later):
        assert answer.status == 503, answer
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json() == UNAVAILABLE
        assert answer.headers["Retry-After"] == "5"
    assert admin.status == 503, admin
    assert admin.headers["Content-Type"].startswith("text/html")
    assert b"The database is unavailable" in admin.body
    assert admin.headers["Retry-After"] == "5"
    assert health.status == 503
    assert health.json()["checks"]["database"].startswith("error")

    back = [read_then_write(stack, n) for n in range(10)]
    assert Counter(answer.status for answer in back) == {200: 10}


@pytest.mark.django_db
def test_only_a_lost_or_refused_connection_counts_as_an_outage():
    genuine = {}
    for statements in (
        ["SELECT * FROM no_such_table"],
        ["SELECT 1 / 0"],
        ["CREATE TEMP TABLE once (id int PRIMARY KEY)", "INSERT INTO once VALUES (1), (1)"],
        ["SET LOCAL statement_timeout = 1", "SELECT pg_sleep(1)"],  # the server is fine, the query too slow
    ):
        with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        genuine[type(caught.value).__name__] = is_database_unavailable(caught.value)
    # These keep their 4xx/500: retrying later would not help.
    assert genuine == dict.fromkeys(["ProgrammingError", "DataError", "IntegrityError", "OperationalError"], False)

    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/inventory", connect_timeout=5)
    assert is_database_unavailable(refused.value)
