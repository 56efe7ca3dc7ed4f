"""Read ``/metrics`` pages the way Prometheus does, and lint them with promtool."""

from __future__ import annotations

import subprocess

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: str) -> Samples:
    """``{sample name: {sorted label pairs: value}}`` for every sample on the page."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def series(samples: Samples, name: str, *label_names: str) -> dict[tuple[str, ...], float]:
    """The values of one sample name keyed by the given labels, in that order."""
    return {
        tuple(dict(labels)[label] for label in label_names): value for labels, value in samples.get(name, {}).items()
    }


def inventory(samples: Samples) -> Samples:
    return {name: values for name, values in samples.items() if name.startswith("inventory_")}


def promtool_problems(text: str) -> list[str]:
    """promtool's complaints about the inventory_* metrics; fails on a parse error.

    Exit status 3 means lint problems only: django-prometheus' own names draw some, ours must not.
    """
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode in (0, 3), f"promtool exit {result.returncode}: {output}"
    return [line for line in output.splitlines() if "inventory_" in line]
