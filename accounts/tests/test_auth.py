"""Sign-up, login, tokens and sessions through HTTP, against the real PostgreSQL."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from freezegun import freeze_time
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User, UserSession
from accounts.tests.conftest import bearer, login
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.models import Membership, Tenant
from tenants.tests.factories import TenantFactory, member

STRONG = "a perfectly long pass phrase 9"


def audit_actions() -> list[str]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.order_by("created_at").values_list("action", flat=True))


# --- Sign-up ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_register__new_email__user_tenant_owner_and_working_tokens(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {
            "email": "Founder@Startup.example",
            "password": STRONG,
            "full_name": "Fay",
            "tenant_name": "Startup",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    me = bearer(response.json()["access"]).get("/api/v1/auth/me").json()
    assert me["user"]["email"] == "founder@startup.example"
    (membership,) = me["memberships"]
    assert membership["tenant"]["name"] == "Startup"
    assert membership["role"]["slug"] == "owner"
    assert "tenant:admin" in membership["permissions"]


@pytest.mark.django_db
def test_register__email_taken__400_on_the_email_field_only(api_client, user):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": user.email.upper(), "password": STRONG, "tenant_name": "Again"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["email"]
    assert not Tenant.objects.filter(name="Again").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["short", "password1234", "ada@example.com!"])
def test_register__weak_password__400_and_nothing_created(api_client, password):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "ada@example.com", "password": password, "tenant_name": "Weak"},
        format="json",
    )

    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert not User.objects.exists()
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_register__128_character_passphrase__accepted(api_client):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "long@example.com", "password": "x9 " * 43, "tenant_name": "Long"},
        format="json",
    )

    assert response.status_code == 201


# --- Login ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login__right_password__tokens_and_a_session(api_client, user):
    response = login(api_client, "ADA@example.com", device_name="laptop")

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    session = UserSession.objects.get(pk=body["session_id"])
    assert session.device_name == "laptop"
    assert session.user == user
    assert "auth.login_succeeded" in audit_actions()


@pytest.mark.django_db
def test_login__wrong_password_and_unknown_email__identical_answers(api_client, user):
    wrong_password = login(api_client, user.email, "not the password at all")
    unknown_email = login(api_client, "nobody@example.com", "not the password at all")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.json()["code"] == "authentication_failed"
    assert audit_actions().count("auth.login_failed") == 2


@pytest.mark.django_db
def test_login__inactive_user__refused_like_a_wrong_password(api_client):
    UserFactory.create(email="gone@example.com", is_active=False)

    response = login(api_client, "gone@example.com")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


# --- Tokens -----------------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.django_db
def test_access_token__alg_none__401(tokens):
    claims = AccessToken(tokens["access"]).payload
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    response = bearer(forged).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.django_db
def test_access_token__signed_with_another_key__401(tokens):
    import jwt

    claims = AccessToken(tokens["access"]).payload
    forged = jwt.encode(claims, "an-attackers-guess-of-the-key-0123456789", algorithm="HS256")

    response = bearer(forged).get("/api/v1/auth/me")

    assert response.status_code == 401


@pytest.mark.django_db
def test_access_token__payload_edited__401(tokens):
    header, _, signature = tokens["access"].split(".")
    claims = AccessToken(tokens["access"]).payload
    claims["user_id"] = str(UserFactory.create().pk)

    response = bearer(f"{header}.{_b64(claims)}.{signature}").get("/api/v1/auth/me")

    assert response.status_code == 401


@pytest.mark.django_db
def test_access_token__expired__401(tokens):
    with freeze_time(timezone.now() + timedelta(hours=1)):
        response = bearer(tokens["access"]).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.django_db
def test_refresh_token__used_as_access__401(tokens):
    response = bearer(tokens["refresh"]).get("/api/v1/auth/me")

    assert response.status_code == 401


@pytest.mark.django_db
def test_refresh__valid__new_pair_and_both_work(api_client, tokens):
    response = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200
    fresh = response.json()
    assert fresh["refresh"] != tokens["refresh"]
    assert fresh["session_id"] == tokens["session_id"]
    assert bearer(fresh["access"]).get("/api/v1/auth/me").status_code == 200


@pytest.mark.django_db
def test_refresh__old_token_replayed_after_grace__family_revoked(api_client, tokens):
    fresh = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()

    with freeze_time(timezone.now() + timedelta(seconds=30)):
        replay = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
        after = bearer(fresh["access"]).get("/api/v1/auth/me")
        refresh_after = api_client.post("/api/v1/auth/refresh", {"refresh": fresh["refresh"]}, format="json")

    assert replay.status_code == 401
    assert replay.json()["code"] == "token_reused"
    assert after.status_code == 401
    assert refresh_after.status_code == 401
    session = UserSession.objects.get(pk=tokens["session_id"])
    assert session.revoke_reason == "refresh_token_reuse"
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="auth.session_revoked", severity="critical").count() == 1


@pytest.mark.django_db
def test_refresh__old_token_retried_within_grace__refused_without_revoking(api_client, tokens):
    fresh = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()

    retry = api_client.post("/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json")

    assert retry.status_code == 401
    assert retry.json()["code"] == "token_already_rotated"
    assert bearer(fresh["access"]).get("/api/v1/auth/me").status_code == 200


@pytest.mark.django_db
def test_refresh__garbage__401(api_client):
    response = api_client.post("/api/v1/auth/refresh", {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


# --- Sessions ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logout__the_access_token_stops_on_the_next_request(tokens):
    client = bearer(tokens["access"])

    response = client.post("/api/v1/auth/logout")
    after = client.get("/api/v1/auth/me")

    assert response.status_code == 204
    assert after.status_code == 401
    assert after.json()["code"] == "session_revoked"


@pytest.mark.django_db
def test_sessions__list_marks_current__revoke_the_other(api_client, user, tokens):
    other = login(api_client, user.email, device_name="phone").json()
    client = bearer(tokens["access"])

    listed = client.get("/api/v1/auth/sessions").json()
    revoked = client.delete(f"/api/v1/auth/sessions/{other['session_id']}")

    assert {s["id"]: s["current"] for s in listed} == {tokens["session_id"]: True, other["session_id"]: False}
    assert revoked.status_code == 204
    assert bearer(other["access"]).get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.django_db
def test_sessions__another_users_session_id__404(tokens):
    stranger = UserFactory.create()
    from accounts.services.auth import session_start

    theirs = session_start(user=stranger, request=None, mfa_verified=False)

    response = bearer(tokens["access"]).delete(f"/api/v1/auth/sessions/{theirs.session.pk}")

    assert response.status_code == 404
    assert bearer(theirs.access).get("/api/v1/auth/me").status_code == 200


@pytest.mark.django_db
def test_deactivated_user__tokens_stop_on_the_next_request(user, tokens):
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = bearer(tokens["access"]).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


@pytest.mark.django_db
def test_password_change__other_sessions_end_this_one_stays(api_client, user, tokens):
    other = login(api_client, user.email).json()
    client = bearer(tokens["access"])

    response = client.post(
        "/api/v1/auth/password/change",
        {"current_password": TEST_PASSWORD, "new_password": STRONG},
        format="json",
    )

    assert response.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 200
    assert bearer(other["access"]).get("/api/v1/auth/me").status_code == 401
    assert login(api_client, user.email, STRONG).status_code == 200


@pytest.mark.django_db
def test_password_change__wrong_current__400_and_unchanged(api_client, user, tokens):
    response = bearer(tokens["access"]).post(
        "/api/v1/auth/password/change",
        {"current_password": "nope nope nope", "new_password": STRONG},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"current_password": ["Wrong password."]}
    assert login(api_client, user.email).status_code == 200


@pytest.mark.django_db
def test_password_reset__link_sets_password_ends_sessions_issues_no_tokens(
    api_client, user, tokens, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        requested = api_client.post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    (mail,) = mailoutbox
    query = mail.body.split("password-reset?", 1)[1].split()[0]
    params = dict(part.split("=", 1) for part in query.split("&"))

    confirmed = api_client.post(
        "/api/v1/auth/password/reset/confirm", {**params, "new_password": STRONG}, format="json"
    )
    reused = api_client.post(
        "/api/v1/auth/password/reset/confirm", {**params, "new_password": STRONG + "x"}, format="json"
    )

    assert requested.status_code == 202
    assert confirmed.status_code == 204
    assert confirmed.content == b""
    assert reused.status_code == 400
    assert bearer(tokens["access"]).get("/api/v1/auth/me").status_code == 401
    assert login(api_client, user.email, STRONG).status_code == 200


@pytest.mark.django_db
def test_password_reset__unknown_email__same_answer_no_mail(
    api_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/password/reset", {"email": "nobody@example.com"}, format="json"
        )

    assert response.status_code == 202
    assert mailoutbox == []


@pytest.mark.django_db
def test_me__memberships_with_effective_permissions(user, tokens):
    tenant = TenantFactory.create(name="Acme")
    member(tenant, "viewer", user=user)

    me = bearer(tokens["access"]).get("/api/v1/auth/me").json()

    (membership,) = me["memberships"]
    assert membership["role"]["slug"] == "viewer"
    assert "teams:write" not in membership["permissions"]
    assert "teams:read" in membership["permissions"]


@pytest.mark.django_db
def test_membership_removed__tenant_access_stops_on_the_next_request(user, tokens):
    tenant = TenantFactory.create()
    member(tenant, "member", user=user)
    client = bearer(tokens["access"])
    assert client.get(f"/api/v1/tenants/{tenant.pk}/teams/").status_code == 200

    with platform_bypass(reason="test", log=False):
        Membership.objects.filter(user=user).delete()

    assert client.get(f"/api/v1/tenants/{tenant.pk}/teams/").status_code == 403


@pytest.mark.django_db
def test_last_seen__written_once_a_minute_not_per_request(user, tokens):
    client = bearer(tokens["access"])
    client.get("/api/v1/auth/me")
    first_seen = User.objects.get(pk=user.pk).last_seen_at

    client.get("/api/v1/auth/me")

    assert first_seen is not None
    assert User.objects.get(pk=user.pk).last_seen_at == first_seen
