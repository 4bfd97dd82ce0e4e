"""The deployment files: compose files validated by a real Compose implementation, nginx rules
checked by nginx, alerting rules and dashboard queries parsed as PromQL, all consistent with
what the application serves and exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from monitoring import metrics
from voice.tests.realtime.proxy import check_config, write_config

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILES = ("docker-compose.dev.yml", "docker-compose.staging.yml", "docker-compose.prod.yml")
PRODUCTION_ENV = {
    "SECRET_KEY": "a-long-random-production-secret-for-the-test",
    "ALLOWED_HOSTS": ".voice.example.com",
    "AURA_BASE_DOMAIN": "voice.example.com",
    "POSTGRES_PASSWORD": "pg-secret",
    "AURA_METRICS_TOKEN": "scrape-token",
    "AURA_ENCRYPTION_KEY": "CfFa9vCGoX7fgJQIlhW0ihmQPdQrPi_xC-YTkylpnWw=",
}
CORE_SERVICES = {"postgres", "redis", "voice-service", "worker", "beat", "nginx", "prometheus"}


def compose_command() -> list[str]:
    """The real Compose client: the docker plugin if installed, else Debian's docker-compose."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("no Docker Compose client: run `make ops-tools` (Debian's docker-compose)")
    return [legacy]


def compose_config(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [*compose_command(), "-f", name, "config"],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


@cache
def resolved(name: str) -> dict[str, Any]:
    result = compose_config(name, PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def mount_targets(service: dict[str, Any]) -> set[str]:
    """Container paths of a service's volumes (long form from compose v2, short from v1)."""
    return {
        volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
        for volume in service.get("volumes", [])
    }


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_are_valid_and_have_the_whole_topology(name):
    config = resolved(name)
    assert set(config["services"]) >= CORE_SERVICES
    voice = config["services"]["voice-service"]
    assert voice["healthcheck"]["test"][-1].count("/readyz") == 1
    assert voice["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert voice["environment"]["DATABASE_URL"].endswith("@postgres:5432/aura")
    worker = config["services"]["worker"]
    assert worker["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/aura-metrics"
    assert worker["environment"]["AURA_WORKER_METRICS_PORT"] == "9808"
    for service in ("voice-service", "worker", "beat"):
        depends = config["services"][service]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", ["docker-compose.staging.yml", "docker-compose.prod.yml"])
def test_production_files_scale_voice_service_behind_nginx_with_tls(name):
    config = resolved(name)
    voice = config["services"]["voice-service"]
    # A published host port would collide as soon as a second replica starts.
    assert "ports" not in voice
    assert voice["environment"]["DJANGO_SETTINGS_MODULE"] == "aura_project.settings.prod"
    nginx = config["services"]["nginx"]
    assert {port["target"] for port in nginx["ports"]} == {80, 443}
    mounts = mount_targets(nginx)
    assert {"/etc/nginx/nginx.conf", "/etc/nginx/tls", "/srv/aura/static"} <= mounts


@pytest.mark.parametrize("name", ["docker-compose.staging.yml", "docker-compose.prod.yml"])
def test_production_files_refuse_to_start_without_their_secrets(name):
    for missing in PRODUCTION_ENV:
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = compose_config(name, env)
        assert result.returncode != 0, f"{name} accepted a missing {missing}"
        assert missing in result.stderr


def test_the_compose_client_rejects_an_invalid_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  voice-service:\n    image: aura\n    portz: [8000]\n")
    result = subprocess.run(
        [*compose_command(), "-f", str(broken), "config"], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "portz" in result.stderr


def test_nginx_accepts_the_proxy_rules(tmp_path):
    config = write_config(tmp_path, listen_port=18080, upstream_ports=[18001, 18002, 18003])
    result = check_config(config)
    assert result.returncode == 0, result.stderr
    locations = (DEPLOY / "nginx" / "aura-locations.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in locations
    assert "proxy_set_header Connection $connection_upgrade;" in locations


def test_production_nginx_terminates_tls_and_follows_the_replicas():
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert "listen 443 ssl;" in conf
    assert "ssl_certificate /etc/nginx/tls/fullchain.pem;" in conf
    assert "server voice-service:8000 resolve;" in conf
    assert "return 301 https://" in conf
    # Other sites embed the widget's ES modules, which browsers load only with CORS.
    widget = re.search(r"location /static/aura/ \{(?P<body>[^}]*)\}", conf)
    assert widget is not None
    assert 'add_header Access-Control-Allow-Origin "*" always;' in widget["body"]
    # The includes it names are the files the compose files mount.
    for included in re.findall(r"include (/etc/nginx/aura/\S+);", conf):
        assert (DEPLOY / "nginx" / Path(included).name).exists()


# --- Prometheus ---------------------------------------------------------------------------------

# Exported by prometheus_client's default collectors or by Prometheus itself.
STANDARD_METRICS = {
    "up",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_cpu_seconds_total",
}


def exported_metric_names() -> set[str]:
    """Every series name AURA's metrics can produce (counters' _total, histograms' parts)."""
    names = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            base = family.name
            if family.type == "counter":
                names |= {base + "_total", base + "_created"}
            elif family.type == "histogram":
                names |= {base + "_bucket", base + "_count", base + "_sum", base + "_created"}
            else:
                names.add(base)
    return names


def selector_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        for attribute in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            if isinstance(child, promql_parser.Expr):
                visit(child)
        for child in getattr(node, "args", None) or ():
            visit(child)

    visit(promql_parser.parse(expr))
    return names


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_parses_and_names_only_exported_metrics():
    known = exported_metric_names() | STANDARD_METRICS
    rules = alert_rules()
    assert len(rules) >= 10
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
        unknown = selector_names(rule["expr"]) - known
        assert not unknown, f"{rule['alert']} uses metrics nobody exports: {unknown}"


def test_alerts_cover_errors_latency_providers_and_resources():
    used = set().union(*(selector_names(rule["expr"]) for rule in alert_rules()))
    for needed in (
        "aura_turns_total",  # error rate: every failed turn, whatever stage
        "aura_conversations_total",  # success rate, refused sessions included
        "aura_sessions_refused_total",
        "aura_audio_mos_sum",  # audio quality
        "aura_audio_clipping_ratio_bucket",
        "aura_playback_underruns_total",
        "aura_turn_stage_seconds_bucket",  # latency
        "aura_provider_errors_total",
        "aura_provider_circuits",
        "aura_event_loop_lag_seconds_bucket",
        "process_resident_memory_bytes",
        "process_open_fds",
        "aura_celery_tasks_total",
    ):
        assert needed in used


def test_the_alert_rules_pass_their_unit_tests():
    """`promtool test rules`: each alert fires on the series it is about (an STT failure, a
    refused session, low DNSMOS, underruns, a slow stage) and stays quiet when all is well."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `make ops-tools` (Debian's prometheus package)"
    result = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_broken_expression_is_caught():
    with pytest.raises(ValueError, match="parenthesis"):
        promql_parser.parse("sum(rate(aura_provider_errors_total[5m])")


def test_prometheus_scrapes_every_replica_where_the_app_listens():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    voice = jobs["voice-service"]
    assert voice["dns_sd_configs"][0]["names"] == ["voice-service"]
    assert voice["dns_sd_configs"][0]["port"] == 8000
    assert voice["authorization"]["credentials_file"] == "/prometheus/.metrics-token"
    assert jobs["celery-worker"]["dns_sd_configs"][0]["port"] == 9808
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    mounted = mount_targets(resolved("docker-compose.prod.yml")["services"]["prometheus"])
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= mounted


def test_the_grafana_dashboard_queries_parse_and_use_exported_metrics():
    dashboard = json.loads((DEPLOY / "grafana" / "aura-dashboard.json").read_text())
    known = exported_metric_names() | STANDARD_METRICS
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert len(expressions) >= 8
    for expr in expressions:
        assert not selector_names(expr) - known, expr


# --- The image ------------------------------------------------------------------------------------


def test_the_image_runs_daphne_as_a_non_root_user_with_the_procfile_flags():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.MULTILINE)
    assert "-r requirements.txt" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}
    procfile_web = (REPO_ROOT / "Procfile").read_text().splitlines()[0]
    for flag in ("--websocket-max-message-size 2097152", "--websocket-max-frame-size 2097152"):
        assert flag in procfile_web
        assert flag in dockerfile
    assert "aura_project.asgi:application" in dockerfile
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)
