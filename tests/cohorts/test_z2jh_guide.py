"""The Zero to JupyterHub guide and its two YAML files: they parse, agree with each other, and
every ``c.Class.setting`` they name exists (nbcohort's Configurables, nbgrader's, the hub's)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

from nbcohort.cohorts.config import all_settings_classes

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / "cohorts" / "hub"
GUIDE = HUB / "ZERO_TO_JUPYTERHUB.md"
VALUES = HUB / "z2jh-values.yaml"
MANIFEST = HUB / "z2jh-nbcohort.yaml"
SETTING = re.compile(r"\bc\.([A-Z]\w*)\.(\w+)")


def known_classes() -> dict[str, type[Configurable]]:
    """Every class a setting in the guide may belong to: nbcohort's, and the few of nbgrader
    and JupyterHub the deployment sets."""
    from jupyterhub.app import JupyterHub
    from jupyterhub.spawner import Spawner
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    classes: dict[str, type[Configurable]] = {c.__name__: c for c in all_settings_classes()}
    for cls in (JupyterHub, Spawner, CourseDirectory, ExchangeFactory):
        classes[cls.__name__] = cls
    return classes


def unknown_settings(text: str) -> list[str]:
    """The ``c.Class.setting`` names in ``text`` that no known Configurable has."""
    classes = known_classes()
    bad = []
    for cls_name, trait in sorted(set(SETTING.findall(text))):
        cls = classes.get(cls_name)
        if cls is None or trait not in cls.class_traits(config=True):
            bad.append(f"c.{cls_name}.{trait}")
    return bad


def test_every_setting_the_guide_names_exists() -> None:
    text = "\n".join(p.read_text("utf-8") for p in (GUIDE, VALUES, MANIFEST))
    assert len(set(SETTING.findall(text))) > 30  # the check sees the guide's settings
    assert unknown_settings(text) == []


def test_the_check_catches_a_wrong_name() -> None:
    wrong = "c.ServiceSettings.replicas = 3\nc.HubAuth.api_url = 'x'\nc.ServiceSettings.port = 1"
    assert unknown_settings(wrong) == ["c.HubAuth.api_url", "c.ServiceSettings.replicas"]


@pytest.fixture(scope="module")
def yaml_docs() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load(VALUES.read_text("utf-8"))
    manifest = [d for d in yaml.safe_load_all(MANIFEST.read_text("utf-8")) if d]
    return values, manifest


def _kinds(manifest: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in manifest}


def test_values_register_the_service_the_manifest_runs(yaml_docs: Any) -> None:
    values, manifest = yaml_docs
    docs = _kinds(manifest)
    service = values["hub"]["services"]["nbcohort"]
    assert "apiToken" not in service  # the chart makes it; the pods read it from Secret `hub`
    svc = docs[("Service", "nbcohort")]
    assert service["url"] == f"http://nbcohort:{svc['spec']['ports'][0]['port']}"
    pods = docs[("Deployment", "nbcohort")]["spec"]["template"]
    assert pods["metadata"]["labels"] == {
        **svc["spec"]["selector"],
        "hub.jupyter.org/network-access-hub": "true",
    }
    env = {e["name"]: e for e in pods["spec"]["containers"][0]["env"]}
    ref = env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "hub", "key": "hub.services.nbcohort.apiToken"}
    assert docs[("Deployment", "nbcohort")]["spec"]["replicas"] > 1
    # The same scopes as the shipped jupyterhub_config.py example.
    scope = "access:services!service=nbcohort"
    assert scope in values["hub"]["loadRoles"]["user"]["scopes"]
    assert scope in values["hub"]["config"]["Spawner"]["server_token_scopes"]


def test_no_volume_is_shared_with_users_servers(yaml_docs: Any) -> None:
    values, manifest = yaml_docs
    user_volumes = values["singleuser"]["storage"]["extraVolumes"]
    assert [v.get("configMap", {}).get("name") for v in user_volumes] == ["nbcohort-config"]
    # Nor between the service's replicas: archives in the database, each pod its own scratch.
    docs = _kinds(manifest)
    assert not [kind for kind, _name in docs if kind == "PersistentVolumeClaim"]
    pods = docs[("Deployment", "nbcohort")]["spec"]["template"]["spec"]
    assert [v for v in pods["volumes"] if v["name"] == "data"] == [
        {"name": "data", "emptyDir": {"sizeLimit": "2Gi"}}
    ]
    source = docs[("ConfigMap", "nbcohort-config")]["data"]["jupyter_config.py"]
    assert 'c.ExchangeSettings.store = "database"' in source


def test_cron_work_is_cronjobs_running_the_real_commands(yaml_docs: Any) -> None:
    _values, manifest = yaml_docs
    commands = {
        d["metadata"]["name"]: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][
            0
        ]["command"]
        for d in manifest
        if d["kind"] == "CronJob"
    }
    assert sorted(commands.values()) == [
        ["nbcohort", "cadence", "tick", "--all"],
        ["nbcohort", "mail", "digest"],
        ["nbcohort", "mail", "send"],
    ]
    from nbcohort.cohorts.cli.main import NbCohortApp

    apps = NbCohortApp.subcommands
    assert {"cadence", "mail", "upgrade-db", "serve"} <= set(apps)


def test_the_configmaps_config_loads_and_sets_hub_mode(
    yaml_docs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _values, manifest = yaml_docs
    source = _kinds(manifest)[("ConfigMap", "nbcohort-config")]["data"]["jupyter_config.py"]
    (tmp_path / "jupyter_config.py").write_text(source, "utf-8")
    monkeypatch.setenv("NBCOHORT_DB_URL", "postgresql+psycopg://u:p@db/nbcohort")
    config: Config = PyFileConfigLoader("jupyter_config.py", path=str(tmp_path)).load_config()
    assert config.ServiceSettings.auth == "hub"
    assert config.NbCohort.db_url == "postgresql+psycopg://u:p@db/nbcohort"
    assert config.ClientSettings.url == "http://nbcohort:8765/services/nbcohort"
    assert config.ExchangeFactory.submit.endswith("service_exchange.ServiceSubmit")
    assert unknown_settings(source) == []


def test_readme_links_the_guide() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    assert "cohorts/hub/ZERO_TO_JUPYTERHUB.md" in readme
