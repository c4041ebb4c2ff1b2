from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from accounts import hooks
        from core.access import tenant_gate
        from tenants import selectors
        from tenants.gate import tenant_access

        # core's API base checks access through the gate (core knows no tenant model); the
        # login asks whether a tenant demands 2FA, and the authenticators read the caller's
        # membership with their credentials (accounts knows no membership).
        tenant_gate.register(tenant_access)
        hooks.tenants_require_mfa.register(selectors.tenants_require_mfa)
        hooks.api_key_with_standing.register(selectors.api_key_with_standing)
        hooks.session_with_standing.register(selectors.session_with_standing)
