"""The shape every model asset shares, written once.

A model asset reads its inputs, fits and evaluates (plain modules, no Dagster), then:
writes a version folder, registers the version as a candidate (with any rows tied to the
version), decides promotion from its blocking gates plus the guard against the production
version, promotes, and reports the same standard metadata and check results. Each model
supplies only its fit, its artifact writer and its gates; this module does the rest, so the
model assets cannot drift apart in how they version, promote and report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from profiling_assets import registry
from profiling_assets.columns import table_metadata
from profiling_assets.metadata import OWNERS

PROMOTED, LEFT = "promoted to production", "left as candidate"


@dataclass
class Gate:
    """One blocking check's verdict on a fitted version, before the production guard."""

    check: str
    passed: bool
    why: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Guard:
    """The regression guard against the production version: ``metric`` of the new version may
    not fall below production's by more than ``tolerance`` (registry.not_worse_than_production).
    Folded into the first gate, whose check then reports it."""

    metric: str
    value: float
    tolerance: float
    higher_is_better: bool = True


@dataclass
class Verdict:
    """What became of a fitted version: its id, folder, status and why."""

    model_name: str
    version: str
    path: Path
    promoted: bool
    why: str
    gates: list[Gate]

    @property
    def status(self) -> str:
        return registry.PRODUCTION if self.promoted else registry.CANDIDATE

    @property
    def outcome(self) -> str:
        return PROMOTED if self.promoted else LEFT

    def metadata(self) -> dict[str, Any]:
        """The standard entries every model asset reports first."""
        return {"version": self.version, "status": self.status,
                "artifact": dg.MetadataValue.path(str(self.path))}

    def check_results(self) -> Iterator[dg.AssetCheckResult]:
        """One ERROR-severity result per gate, each naming the version and the outcome."""
        for gate in self.gates:
            yield dg.AssetCheckResult(
                check_name=gate.check, passed=gate.passed, severity=dg.AssetCheckSeverity.ERROR,
                description=gate.why,
                metadata={**gate.metadata, "version": self.version, "outcome": self.outcome})


def model_asset(*, table: str | None = None, **kwargs: Any) -> Any:
    """The decorator of a model (train) asset: tagged ``role=model`` (the daily jobs leave
    these out; each has its own train job), owned by the data platform team, with the schema
    of the table it writes beside its registry version, if any; unpartitioned."""
    return dg.asset(tags={"role": "model"}, owners=OWNERS,
                    metadata=table_metadata(table) if table else None, **kwargs)


def write_version(model_registry: Any, model_name: str,
                  write: Callable[[Path], None]) -> tuple[str, Path]:
    """A new version id and its folder (under the ModelRegistryResource's models_dir), filled
    by ``write`` and renamed into place."""
    version = registry.new_version()
    return version, model_registry.write_artifact(model_name, version, write)


def _guard(con: duckdb.DuckDBPyConnection, model_name: str, guard: Guard) -> tuple[bool, str]:
    if guard.higher_is_better:
        return registry.not_worse_than_production(con, model_name, guard.metric, guard.value,
                                                  guard.tolerance)
    # lower is better (an error): compare the negated figures with the same rule
    current = registry.production(con, model_name)
    if current is None or current.metrics.get(guard.metric) is None:
        return True, "no production version to compare with"
    reference = float(current.metrics[guard.metric])
    if guard.value <= reference + guard.tolerance:
        return True, (f"{guard.metric} {guard.value:.4f} vs production {current.version} "
                      f"{reference:.4f} (tolerance {guard.tolerance})")
    return False, (f"{guard.metric} {guard.value:.4f} is worse than production {current.version} "
                   f"({reference:.4f}) by more than {guard.tolerance}")


def conclude(context: Any, con: duckdb.DuckDBPyConnection, model_name: str, version: str,
             path: Path, *, metrics: dict[str, Any], config: dict[str, Any],
             window: tuple[date | str | None, date | str | None], gates: Sequence[Gate],
             guard: Guard | None = None,
             write_rows: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
             fallback: str = "") -> Verdict:
    """Register ``version`` as a candidate, write the rows tied to it (``write_rows``, e.g. item
    factors), and promote it when every gate passes and the guard holds; the guard's outcome is
    added to the first gate's reason (and fails that gate when it does not hold). A version left
    as candidate is logged as a warning that says what the daily assets do meanwhile
    (``fallback``)."""
    gates = list(gates)
    registry.register(con, model_name, version, artifact_path=path, metrics=metrics,
                      config=config, window=window)
    if write_rows is not None:
        write_rows(con)
    passed = all(g.passed for g in gates)
    if passed and guard is not None and gates:
        ok, said = _guard(con, model_name, guard)
        first = gates[0]
        first.why = f"{first.why}; {said}" if ok else said
        first.passed = ok
        passed = ok
    why = "; ".join(g.why for g in gates) if passed else "; ".join(
        f"{g.check}: {g.why}" for g in gates if not g.passed)
    if passed:
        registry.promote(con, model_name, version,
                         f"{', '.join(g.check for g in gates)} passed: {why}")
    else:
        context.log.warning(f"{model_name} {version} stays a candidate: {why}"
                            + (f"; {fallback}" if fallback else ""))
    return Verdict(model_name, version, path, passed, why, gates)


def not_fitted(reasons: Mapping[str, str]) -> Iterator[dg.AssetCheckResult]:
    """Each check (name -> why) as a WARN, not an ERROR: nothing was fitted for it, so nothing
    is left to block."""
    for check, why in reasons.items():
        yield dg.AssetCheckResult(check_name=check, passed=False, description=why,
                                  severity=dg.AssetCheckSeverity.WARN)


def skipped(context: Any, why: str, checks: Sequence[str] | Mapping[str, str],
            metadata: dict[str, Any] | None = None) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """A model asset that fitted nothing (too little history, too few examples): a
    materialization of no rows that says why, and each check as a warning (``checks``: names,
    all with ``why``, or name -> its own reason); the run succeeds and the daily assets go on
    with the production version or their fallback."""
    context.log.warning(why)
    yield dg.MaterializeResult(metadata={"skipped": why, "dagster/row_count": 0, **(metadata or {})})
    yield from not_fitted(checks if isinstance(checks, Mapping) else dict.fromkeys(checks, why))
