from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"

    def ready(self) -> None:
        from agents.services.shares import agent_shares_remove_for_member
        from tenants.hooks import member_removed

        # A member removed from a tenant loses the shares of its agents in the same transaction
        # (tenants is below agents and cannot call it).
        member_removed.subscribe(agent_shares_remove_for_member)
