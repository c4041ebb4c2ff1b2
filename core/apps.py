from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.contrib import admin

        from core.admin_site import QuartermasterAdminSite

        # django-otp's documented way to swap the default site's behaviour in place.
        admin.site.__class__ = QuartermasterAdminSite
