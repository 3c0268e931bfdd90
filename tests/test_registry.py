import duckdb
import pytest

from profiling_assets import registry
from profiling_assets.resources import ModelRegistryResource, prepare_connection


@pytest.fixture
def models(data_dir):
    """The registry's artifact folder, pointed at the test's folder."""
    return ModelRegistryResource(models_dir=str(data_dir / "models"))


@pytest.fixture
def con(data_dir):
    con = duckdb.connect(str(data_dir / "registry.duckdb"))
    prepare_connection(con)
    yield con
    con.close()


def _fit(con, models, name: str, recall: float) -> registry.ModelVersion:
    version = registry.new_version()
    path = models.write_artifact(name, version, lambda d: (d / "weights.txt").write_text("w"))
    registry.register(con, name, version, artifact_path=path, metrics={"recall_at_10": recall},
                      config={"k": 8}, window=("2026-10-01", "2026-10-14"))
    return registry.get(con, name, version)


def test_candidate_then_single_production_version(con, models):
    with pytest.raises(registry.NoProductionModelError, match="Materialize the svd_model"):
        registry.require_production(con, "svd_model")
    first = _fit(con, models, "svd_model", 0.2)
    assert first.status == registry.CANDIDATE
    assert (first.artifact_path / "weights.txt").read_text() == "w"
    assert first.metrics == {"recall_at_10": 0.2}
    registry.promote(con, "svd_model", first.version, "checks passed")
    second = _fit(con, models, "svd_model", 0.3)
    registry.promote(con, "svd_model", second.version, "checks passed")
    assert registry.require_production(con, "svd_model").version == second.version
    assert registry.get(con, "svd_model", first.version).status == registry.RETIRED
    # Rolling back is promoting the earlier version again.
    registry.promote(con, "svd_model", first.version, "rollback")
    statuses = {v.version: v.status for v in registry.versions(con, "svd_model")}
    assert statuses == {first.version: registry.PRODUCTION, second.version: registry.RETIRED}
    assert [v.model_name for v in registry.versions(con)] == ["svd_model", "svd_model"]


def test_failed_write_leaves_no_version_folder(data_dir):
    def explode(folder):
        (folder / "half.bin").write_bytes(b"x")
        raise OSError("disk full")

    models = ModelRegistryResource(models_dir=str(data_dir / "elsewhere"))
    with pytest.raises(OSError):
        models.write_artifact("text_encoder", "v1", explode)
    assert list((data_dir / "elsewhere" / "text_encoder").iterdir()) == []


def test_a_candidate_worse_than_production_beyond_the_tolerance_is_refused(con, models):
    assert registry.not_worse_than_production(con, "svd_model", "recall_at_10", 0.1, 0.02)[0]
    current = _fit(con, models, "svd_model", 0.30)
    registry.promote(con, "svd_model", current.version, "checks passed")
    ok, why = registry.not_worse_than_production(con, "svd_model", "recall_at_10", 0.29, 0.02)
    assert ok and current.version in why
    ok, why = registry.not_worse_than_production(con, "svd_model", "recall_at_10", 0.25, 0.02)
    assert not ok and "worse than production" in why


def test_models_command_lists_versions_and_rolls_production_back(data_dir, models, capsys):
    from profiling_assets import cli, settings
    from profiling_assets.resources import prepare_connection

    path = settings.warehouse_path()
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        prepare_connection(con)
        first = _fit(con, models, "svd_model", 0.30)
        registry.promote(con, "svd_model", first.version, "checks passed")
        second = _fit(con, models, "svd_model", 0.31)
        registry.promote(con, "svd_model", second.version, "checks passed")
    cli.main(["models", "list"])
    listing = capsys.readouterr().out
    assert f"svd_model  {second.version}  production" in listing
    assert f"svd_model  {first.version}  retired" in listing
    cli.main(["models", "rollback", "svd_model"])
    assert f"production is now {first.version}" in capsys.readouterr().out
    with duckdb.connect(str(path), read_only=True) as con:
        assert registry.production(con, "svd_model").version == first.version
    with pytest.raises(SystemExit, match="no version 'nope'"):
        cli.main(["models", "rollback", "svd_model", "--to", "nope"])
