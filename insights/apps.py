from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from agents.hooks import agent_changed, session_spawned
        from insights.services.graph import graph_agent_changed, graph_people_changed, graph_session_spawned
        from tenants.hooks import people_changed

        # The participant graph follows memberships, invites, agents and spawned sessions, which
        # live in lower layers that cannot call insights.
        people_changed.subscribe(graph_people_changed)
        agent_changed.subscribe(graph_agent_changed)
        session_spawned.subscribe(graph_session_spawned)
