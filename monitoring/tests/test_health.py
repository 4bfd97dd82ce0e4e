import pytest
from django.test import Client

from monitoring import health


@pytest.mark.parametrize("host", ["10.0.0.7:8000", "unknown.example", "localhost"])
def test_healthz_answers_for_any_host_without_touching_any_service(host):
    response = Client().get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(db, settings):
    settings.AURA_WARM_UP_LOCAL_MODELS = False  # models load on first use: nothing to wait for
    response = Client().get("/readyz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": True, "redis": True, "models": True},
    }


def test_readyz_is_503_when_a_dependency_is_down(db, settings):
    settings.AURA_WARM_UP_LOCAL_MODELS = False
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/readyz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "redis": False, "models": True}
    assert health.readiness()["redis"] is False


def test_readyz_waits_for_the_models_a_process_loads_at_start(db, settings):
    """This test process never warmed the models up; a daphne process does before serving."""
    settings.AURA_WARM_UP_LOCAL_MODELS = True
    response = Client().get("/readyz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 503
    assert response.json()["checks"]["models"] is False


def test_probes_only_answer_get(db):
    assert Client().post("/healthz", HTTP_HOST="localhost").status_code == 405
