from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from accounts.hooks import tenants_require_mfa
        from core.access import tenant_gate
        from tenants.gate import tenant_access
        from tenants.selectors import tenants_require_mfa as require_mfa

        # core's API base checks access through the gate (core knows no tenant model); the
        # login asks whether a tenant demands 2FA (accounts knows no membership).
        tenant_gate.register(tenant_access)
        tenants_require_mfa.register(require_mfa)
