"""The shape of the code location, pinned: a change that drops an asset's group, kind, owner,
check (or its blocking flag), partitioning, a job's selection, a schedule or a sensor fails
here until the snapshot is updated on purpose:

    PROFILING_UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_definitions_snapshot.py

and the diff of tests/fixtures/definitions.json shows the change in review.
"""

import json
import os
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).parent / "fixtures" / "definitions.json"


def describe_partitions(partitions_def) -> str | None:
    if partitions_def is None:
        return None
    return f"{type(partitions_def).__name__} {getattr(partitions_def, 'cron_schedule', '')} " \
           f"{getattr(partitions_def, 'timezone', '')}".strip()


def definitions_shape() -> dict:
    from profiling_assets.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        policy = node.backfill_policy
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "pools": sorted(node.pools or ()),
            "partitions": describe_partitions(node.partitions_def),
            "backfill_policy": None if policy is None else policy.policy_type.value,
            "checks": {c.name: {"blocking": graph.get(c).blocking,
                                "partitioned": graph.get(c).partitions_def is not None}
                       for c in sorted(node.check_keys, key=lambda c: c.name)},
            "resources": sorted(repo.assets_defs_by_key[key].required_resource_keys),
        }
    jobs = {}
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue  # Dagster's implicit all-assets job
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "partitions": describe_partitions(job.partitions_def),
        }
    schedules = {s.name: {"cron": s.cron_schedule, "job": s.job_name,
                          "timezone": s.execution_timezone, "default": s.default_status.value}
                 for s in sorted(repo.schedule_defs, key=lambda s: s.name)}
    sensors = {s.name: {"job": s.job_name, "default": s.default_status.value,
                        "interval_seconds": s.minimum_interval_seconds,
                        "resources": sorted(s.required_resource_keys)}
               for s in sorted(repo.sensor_defs, key=lambda s: s.name)}
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors,
            "resources": sorted(defs.resources or {})}


def test_definitions_match_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    # sensors' default status follows PROFILING_RETRAIN_SENSORS: pin it to the default
    monkeypatch.delenv("PROFILING_RETRAIN_SENSORS", raising=False)
    shape = definitions_shape()
    text = json.dumps(shape, indent=1, sort_keys=True) + "\n"
    if os.environ.get("PROFILING_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(text)
    stored = json.loads(SNAPSHOT.read_text())
    for part in ("assets", "jobs", "schedules", "sensors"):
        assert sorted(shape[part]) == sorted(stored[part]), f"{part} added or removed"
        for name, value in stored[part].items():
            assert shape[part][name] == value, f"{part[:-1]} {name} changed"
    assert shape == stored
