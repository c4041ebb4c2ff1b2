from django.urls import path

from tenants.api import account_views as v

urlpatterns = [
    path("auth/register", v.RegisterApi.as_view(), name="auth-register"),
    path("auth/me", v.MeApi.as_view(), name="auth-me"),
]
