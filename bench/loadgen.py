"""The load generators: ``wrk`` with the Lua scripts of ``bench/lua`` and ``pgbench`` (never Python)."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

LUA_DIR = Path(__file__).resolve().parent / "lua"
THREADS = 2
CONNECTIONS = 32
TIMEOUT = "10s"

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class LoadError(RuntimeError):
    pass


@dataclass
class WrkResult:
    stats: dict[str, int]
    statuses: dict[int, int]
    distribution_ms: dict[int, float] = field(default_factory=dict)  # from "Latency Distribution" (--latency)
    output: str = ""

    @property
    def seconds(self) -> float:
        return self.stats["duration_us"] / 1e6

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def errors_line(self) -> str:
        """wrk's own error summary (connect/read/write/timeout), if it printed one."""
        match = re.search(r"Socket errors:.*", self.output)
        return match.group(0).strip() if match else ""


def parse_distribution(output: str) -> dict[int, float]:
    """``{50: ms, 75: ms, 90: ms, 99: ms}`` from wrk's ``Latency Distribution`` block."""
    block = output.split("Latency Distribution", 1)
    if len(block) < 2:
        return {}
    result = {}
    for percent, number, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", block[1], re.MULTILINE):
        result[int(percent)] = float(number) * _UNITS_MS[unit]
    return result


def run_wrk(script: str, url: str, *, seconds: int, env: dict[str, str], latency: bool = False, log=None) -> WrkResult:
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", TIMEOUT]
    cmd += ["-s", str(LUA_DIR / script)]
    if latency:
        cmd.append("--latency")
    cmd.append(url)
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=seconds + 120)
    if log is not None:
        log.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise LoadError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    stats: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for key, value in re.findall(r"^BENCHSTAT (\S+) (-?\d+)$", proc.stdout, re.MULTILINE):
        if key.startswith("status."):
            statuses[int(key.split(".", 1)[1])] = int(value)
        else:
            stats[key] = int(value)
    if "duration_us" not in stats:
        raise LoadError(f"wrk printed no statistics: {proc.stdout.strip()} {proc.stderr.strip()}")
    return WrkResult(
        stats=stats, statuses=statuses, distribution_ms=parse_distribution(proc.stdout), output=proc.stdout
    )


@dataclass
class PgbenchResult:
    tps: float
    transactions: int
    failed: int
    output: str


def run_pgbench(database_url: str, script: str, *, seconds: int, log=None) -> PgbenchResult:
    """``pgbench -n -c 32 -j 2 -T <seconds> -f <script>`` on the bench database."""
    url = urlsplit(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = unquote(url.password)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="bench-") as handle:
        handle.write(script)
        handle.flush()
        cmd = ["pgbench", "-n", "-c", str(CONNECTIONS), "-j", str(THREADS), "-T", str(seconds), "-f", handle.name]
        cmd += ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
        cmd += ["-U", unquote(url.username or "postgres"), url.path.lstrip("/")]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if log is not None:
        log.write(f"$ {' '.join(cmd)}\n{script}\n{proc.stdout}{proc.stderr}\n")
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not tps:
        raise LoadError(f"pgbench failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    done = re.search(r"number of transactions actually processed: (\d+)", proc.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
    return PgbenchResult(
        tps=float(tps.group(1)),
        transactions=int(done.group(1)) if done else 0,
        failed=int(failed.group(1)) if failed else 0,
        output=proc.stdout,
    )
