from django.apps import AppConfig

# How the admin names each app (the sidebar, the index, breadcrumbs): words a person uses, not
# package labels such as `Otp_Static` or `Axes`.
ADMIN_APP_NAMES = {
    "accounts": "People and access",
    "tenants": "Tenants",
    "billing": "Billing and credits",
    "audit": "Audit log",
    "otp_static": "Backup codes",
    "otp_totp": "Authenticator apps",
    "axes": "Sign-in lockouts",
    "django_celery_beat": "Background schedules",
}


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = ADMIN_APP_NAMES["accounts"]

    def ready(self) -> None:
        from django.apps import apps
        from django.contrib import admin

        from accounts import checks, schema  # noqa: F401  # the system checks, the OpenAPI auth extensions
        from accounts.admin_site import QuartermasterAdminSite

        # django-otp's documented way to swap the default site's behaviour in place: the staff's
        # second factor (accounts.admin_site).
        admin.site.__class__ = QuartermasterAdminSite
        # Third-party apps' labels are theirs; their names in our admin are ours.
        installed = {config.label: config for config in apps.get_app_configs()}
        for label, name in ADMIN_APP_NAMES.items():
            if label in installed:
                installed[label].verbose_name = name
