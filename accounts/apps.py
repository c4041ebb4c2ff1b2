from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.contrib import admin

        from accounts import checks, schema  # noqa: F401  # the system checks, the OpenAPI auth extensions
        from accounts.admin_site import QuartermasterAdminSite

        # django-otp's documented way to swap the default site's behaviour in place: the staff's
        # second factor (accounts.admin_site).
        admin.site.__class__ = QuartermasterAdminSite
