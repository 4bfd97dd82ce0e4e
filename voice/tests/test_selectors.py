import pytest
from django_tenants.utils import schema_context

from voice.engine.errors import InvalidRequestError
from voice.models import Agent
from voice.selectors import agent_config, agent_for_session
from voice.services import agent_create


def test_a_new_organization_has_a_default_agent_on_the_local_models(org_alpha):
    with schema_context(org_alpha.schema_name):
        agent = agent_for_session(None)
        config = agent_config(agent)
    assert agent.is_default
    assert config.llm_routes[0].provider == "local"
    assert config.turn_detection is not None


def test_agents_are_found_by_name_and_unknown_names_are_refused(org_alpha):
    with schema_context(org_alpha.schema_name):
        agent_create(name="Sales", instructions="Sell kindly.")
        assert agent_config(agent_for_session("Sales")).instructions == "Sell kindly."
        with pytest.raises(InvalidRequestError, match="No agent named"):
            agent_for_session("Ghost")


def test_agents_of_one_organization_are_invisible_to_another(org_alpha, org_beta):
    with schema_context(org_alpha.schema_name):
        agent_create(name="Alpha-only")
    with schema_context(org_beta.schema_name):
        assert not Agent.objects.filter(name="Alpha-only").exists()
        with pytest.raises(InvalidRequestError):
            agent_for_session("Alpha-only")


def test_an_agent_with_bad_settings_is_not_saved(org_alpha):
    with schema_context(org_alpha.schema_name):
        with pytest.raises(InvalidRequestError, match="provider"):
            agent_create(name="Broken", llm_routes=[{"provider": "nope", "model": "x"}])
        with pytest.raises(InvalidRequestError, match="built-in tool"):
            agent_create(name="Broken", builtin_tools=["rm_rf"])
        assert not Agent.objects.filter(name="Broken").exists()


def test_only_one_agent_is_the_default(org_alpha):
    with schema_context(org_alpha.schema_name):
        agent_create(name="New default", is_default=True)
        assert list(Agent.objects.filter(is_default=True).values_list("name", flat=True)) == [
            "New default"
        ]
