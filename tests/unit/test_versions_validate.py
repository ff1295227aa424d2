"""What only the operator can refuse: images from registries outside the allow-list."""

from __future__ import annotations

from modelops.api.modelversion import ModelVersionSpec
from modelops.settings import Settings
from modelops.versions.validate import problems


def spec(**fields: object) -> ModelVersionSpec:
    return ModelVersionSpec.model_validate({
        "model": "m", "version": "1", "artifact": {"uri": "s3://b/m/1/"},
        "serving": {"image": "ghcr.io/acme/server:1"}, **fields})


def test_images_outside_the_allowed_registries_are_refused() -> None:
    settings = Settings(image_registries=["registry.internal/"])
    s = spec(training={"image": "docker.io/evil/miner:1", "command": ["x"],
                       "outputURI": "s3://b/o/"},
             evaluation={"image": "registry.internal/eval:1", "command": ["e"]})
    found = problems(s, settings, None)
    assert any("serving.image 'ghcr.io/acme/server:1' is not from an allowed registry" in p
               for p in found)
    assert any("training.image 'docker.io/evil/miner:1'" in p for p in found)
    assert not any("evaluation.image" in p for p in found)


def test_without_an_allow_list_any_registry_is_accepted() -> None:
    assert problems(spec(), Settings(), None) == []
