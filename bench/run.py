"""``make bench``: the performance benchmarks (README, "Performance").

Every run: drop and create the bench database (``DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/inventory_bench), migrate, seed with set-based SQL, start the
``make serve``-equivalent stack (``manage.py runstack --workers $WEB_WORKERS --quiet``, default 4,
with BENCHMARK_ROUTES=1 and DEBUG=false: uvicorn workers, a Celery worker with beat, and the relay
``manage.py relay_events``) on a free port, run the benchmarks, stop the stack (also on failure or
Ctrl-C). Load comes from ``wrk`` (Lua scripts in ``bench/lua``) and ``pgbench``; every
figure is a ratio to a baseline measured in the same run, because the machine is shared and noisy.

Output: a table, one ``BENCH <name> <value> <unit> baseline=<value> ratio=<value>`` line per benchmark,
and ``bench/results.json``. The exit status is non-zero when a correctness check fails (a missed
target does not fail the run).

Environment: DATABASE_URL, REDIS_URL (default redis://127.0.0.1:6379/3), WEB_WORKERS (default 4),
BENCH_ONLY=name1,name2 (a subset), BENCH_DURATION=seconds (each wrk/pgbench run, default 15),
BENCH_DRAIN=seconds (default 5), BENCH_RELAY_TIMEOUT=seconds (how long the relay may take to drain
what a benchmark wrote before that counts as a failed check, default 600), BENCH_KEEP_LOGS=1 (keep the
logs of a passing run too), BENCH_ALLOW_DROP=1 (drop a database whose name lacks "bench"), DB_POOL_SIZE
(the stack's per-process psycopg pool, the app's default unless given; 0 turns the pool off).

Differences from ``make serve``, all on purpose: beat's sweep and scan
intervals are a day (expire_sweep and low_stock_scan time those jobs in-process); cache/channel key
prefix ``bench`` and a private VAR_DIR (nothing shared with another stack on the same Redis).
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # run as a script: import the project and ``bench`` as a package
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.loadgen import CONNECTIONS, run_wrk  # noqa: E402
from bench.pgmon import ConnectionMonitor  # noqa: E402
from bench.stack import Stack  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/inventory_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"
NAMES = (
    "floor",
    "hot_sku_reserve",
    "relay_lag",  # captured under hot_sku_reserve's load (runs that load itself when it is not selected)
    "spread_reserve",
    "spread_reserve_vs_floor",
    "cached_read",
    "availability_200",
    "ws_fanout",
    "expire_sweep",
    "forecast_refresh",  # before low_stock_scan: on the base items, not its million
    "low_stock_scan",
    "csv_import_10k",
)
WAREHOUSES = 100
CATALOG = 10_000
RESULTS_PATH = ROOT / "bench" / "results.json"
CACHE_PREFIX = "bench"
STACK_CONNECTIONS = 50  # the stack's peak PostgreSQL connections under load, as measured (the notes print it)


def _seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip().lower().removesuffix("s")
    if not raw:
        return default
    try:
        value = round(float(raw))
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds, got {os.environ[name]!r}") from None
    return max(1, value)


def _selected() -> list[str]:
    raw = os.environ.get("BENCH_ONLY", "").strip()
    if not raw:
        return list(NAMES)
    wanted = [n.strip() for n in raw.split(",") if n.strip()]
    if unknown := [n for n in wanted if n not in NAMES]:
        raise SystemExit(f"BENCH_ONLY: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return [n for n in NAMES if n in wanted]


def _workers() -> int:
    raw = os.environ.get("WEB_WORKERS", "4")
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"WEB_WORKERS must be a positive integer, got {raw!r}")
    return int(raw)


def reset_database(url: str) -> str:
    """Drop and create the bench database; returns the server version."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or ("bench" not in name and os.environ.get("BENCH_ALLOW_DROP") != "1"):
        raise SystemExit(
            f"refusing to drop database {name!r}: its name lacks 'bench' (set BENCH_ALLOW_DROP=1 to insist)"
        )
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return conn.execute("SHOW server_version").fetchone()[0]


def reset_redis(url: str) -> str:
    """Delete the bench's keys (cache and channel layer, prefix ``bench``); returns the server version."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{CACHE_PREFIX}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    return client.info("server")["redis_version"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def print_table(results) -> None:
    header = ("benchmark", "value", "baseline", "ratio", "target", "met")
    rows = [
        (
            r.name,
            f"{_fmt(r.value)} {r.unit}",
            f"{_fmt(r.baseline)} {r.baseline_unit}",
            "n/a" if r.ratio is None else f"{r.ratio:.3f}",
            r.target,
            {True: "yes", False: "NO", None: "n/a"}[r.meets_target],
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print()
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    print()
    for r in results:
        print(f"  {r.name}: {r.notes}")
    print()


def main() -> int:
    began = time.monotonic()
    selected = _selected()
    seconds = _seconds("BENCH_DURATION", 15)
    drain = _seconds("BENCH_DRAIN", 5)
    relay_timeout = _seconds("BENCH_RELAY_TIMEOUT", 600)
    workers = _workers()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed")

    workdir = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    (workdir / "prometheus").mkdir()
    (workdir / "var" / "static").mkdir(parents=True)  # STATIC_ROOT: whitenoise warns when it is missing
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "BENCHMARK_ROUTES": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        "VAR_DIR": str(workdir / "var"),  # beat's schedule file: not shared with another stack
        "CACHE_KEY_PREFIX": CACHE_PREFIX,
        # Beat must not sweep or scan behind the benchmarks' back (expire_sweep / low_stock_scan time them).
        "RESERVATION_SWEEP_SECONDS": "86400",
        "LOW_STOCK_SCAN_SECONDS": "86400",
        # One token drives thousands of requests a second: the per-token throttle would measure itself.
        "API_THROTTLE_RATE": "off",
        "API_THROTTLE_ANON_RATE": "off",
        **({"DB_POOL_SIZE": os.environ["DB_POOL_SIZE"]} if "DB_POOL_SIZE" in os.environ else {}),
        "PYTHONUNBUFFERED": "1",
    }

    pg_version = reset_database(database_url)
    redis_version = reset_redis(redis_url)
    print(
        f"machine: nproc={len(os.sched_getaffinity(0))} cpu={cpu_model()!r} postgresql={pg_version} "
        f"redis={redis_version} python={platform.python_version()} web_workers={workers} duration={seconds}s",
        flush=True,
    )
    print(f"benchmarks: {', '.join(selected)}; logs in {workdir}", flush=True)
    print(f"stack: DB_POOL_SIZE={env.get('DB_POOL_SIZE', 'default')} (psycopg pool per process)", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)

    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from bench import benchmarks, seed

    started = time.perf_counter()
    data = seed.seed_base(warehouses=WAREHOUSES, catalog=CATALOG)
    seed.analyze(seed.Warehouse, seed.Product, seed.InventoryItem)
    seed.create_plain_tables(rows=CATALOG, stock=seed.HOT_STOCK)
    print(f"seeded {WAREHOUSES} warehouses, {CATALOG} + 2 products in {time.perf_counter() - started:.1f}s", flush=True)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    stack = Stack(workers=workers, env=env, log_path=workdir / "stack.log")
    results = []
    errors = []
    interrupted = False
    monitor = ConnectionMonitor(database_url).start()
    in_use = monitor.cluster_connections()
    if monitor.max_connections - in_use < STACK_CONNECTIONS + CONNECTIONS:
        print(
            f"warning: {in_use} of the server's {monitor.max_connections} connections are in use already; the stack"
            f" (~{STACK_CONNECTIONS} at peak) and pgbench ({CONNECTIONS}) may be refused (too many clients)",
            flush=True,
        )
    with (workdir / "bench.log").open("w") as log:
        ctx = benchmarks.Context(
            data=data,
            stack=stack,
            database_url=database_url,
            seconds=seconds,
            drain=drain,
            log=log,
            monitor=monitor,
            relay_timeout=relay_timeout,
            measure_relay="relay_lag" in selected,
        )
        try:
            stack.start()
            print(f"stack up on {stack.base_url} ({workers} web workers + Celery worker/beat + relay)", flush=True)
            run_wrk(
                "get.lua",
                stack.base_url,
                seconds=2,
                env=ctx.wrk_env(BENCH_PATH=benchmarks.CONSTANT_PATH),
                log=log,
            )  # warm-up: every worker has imported and connected
            for name in selected:
                print(f"== {name}", flush=True)
                t0 = time.monotonic()
                try:
                    result = benchmarks.BENCHMARKS[name](ctx)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    errors.append(name)
                    print(f"ERROR {name}: {type(exc).__name__}: {exc}", flush=True)
                    if stack.process is not None and stack.process.poll() is not None:
                        print(stack.log_tail(), flush=True)
                    result = benchmarks.Result(name, None, "", None, "", None, "", None, f"error: {exc}")
                results.append(result)
                print(
                    f"   {name}: {_fmt(result.value)} {result.unit} baseline {_fmt(result.baseline)} "
                    f"{result.baseline_unit} ({time.monotonic() - t0:.0f}s)",
                    flush=True,
                )
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted: stopping the stack", flush=True)
        except Exception as exc:
            errors.append("stack")
            print(f"ERROR: {type(exc).__name__}: {exc}", flush=True)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
                signal.signal(sig, signal.SIG_IGN)
            stack.stop()
            monitor.stop()
            connection.close()

    print_table(results)
    for r in results:
        print(f"BENCH {r.name} {_fmt(r.value)} {r.unit or '-'} baseline={_fmt(r.baseline)} ratio={_fmt(r.ratio)}")
    if not interrupted:
        RESULTS_PATH.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    failed_checks = [c for c in ctx.checks if not c.passed]
    print()
    for c in ctx.checks:
        print(f"{'PASS' if c.passed else 'FAIL'} {c.name}")
    print(f"total time {time.monotonic() - began:.0f}s")
    if interrupted:
        print(f"interrupted (logs in {workdir}); {RESULTS_PATH.relative_to(ROOT)} left as it was")
        return 130
    print(f"results: {RESULTS_PATH.relative_to(ROOT)}")
    if failed_checks or errors:
        print(
            f"FAIL: {len(failed_checks)} check(s) failed, errors in: {', '.join(errors) or 'none'} (logs in {workdir})"
        )
        return 1
    if os.environ.get("BENCH_KEEP_LOGS") != "1":
        shutil.rmtree(workdir, ignore_errors=True)
    print("PASS: every correctness check held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
