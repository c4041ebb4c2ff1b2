from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing.services import billing_tenant_setup
        from tenants.hooks import tenant_created

        # A new tenant gets its credit account, subscription and first credits in the same
        # transaction (tenants is below billing and cannot call it).
        tenant_created.subscribe(billing_tenant_setup)
