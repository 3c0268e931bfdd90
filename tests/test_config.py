"""Every run config field of every asset carries a description the launchpad shows."""

import inspect

import dagster as dg


def _config_classes_by_asset() -> dict[str, list[type[dg.Config]]]:
    from profiling_assets.definitions import defs

    found: dict[str, list[type[dg.Config]]] = {}
    for key, assets_def in defs.get_repository_def().assets_defs_by_key.items():
        for op in assets_def.node_def.iterate_op_defs():
            fn = getattr(op.compute_fn, "decorated_fn", None)
            if fn is None:
                continue
            hints = [p.annotation for p in inspect.signature(fn).parameters.values()]
            classes = [h for h in hints if inspect.isclass(h) and issubclass(h, dg.Config)]
            if classes:
                found.setdefault(key.to_user_string(), []).extend(classes)
    return found


def test_every_config_field_has_a_description():
    by_asset = _config_classes_by_asset()
    classes = {cls for group in by_asset.values() for cls in group}
    # the walk must see the known configs, else it proves nothing
    assert {"CleaningConfig", "SvdModelConfig", "RecommendationsConfig", "SegmentModelConfig",
            "TextEncoderConfig", "TextEmbeddingsConfig", "UserTextProfileConfig",
            "PropensityModelConfig"} <= {c.__name__ for c in classes}

    missing = sorted(f"{cls.__module__}.{cls.__name__}.{name}"
                     for cls in classes for name, field in cls.model_fields.items()
                     if not (field.description or "").strip())
    assert not missing, f"Config fields without a description: {missing}"

    # and what the launchpad shows: the description reaches the op's config schema
    from profiling_assets.definitions import defs

    no_schema_text = []
    for key, assets_def in defs.get_repository_def().assets_defs_by_key.items():
        for op in assets_def.node_def.iterate_op_defs():
            if op.config_schema is None:
                continue
            fields = getattr(op.config_schema.as_field().config_type, "fields", None) or {}
            no_schema_text += [f"{key.to_user_string()}.{name}" for name, f in fields.items()
                               if not (f.description or "").strip()]
    assert not no_schema_text, f"config schema fields without a description: {sorted(no_schema_text)}"
