"""The pages e-mails link to: each test takes the link out of the e-mail (mail.outbox), checks it
is built from QM_PUBLIC_URL, and follows it as the recipient would. Forgotten password → reset
link → new password; an invite → a new account, or an existing one signed in, or the wrong one.
Bad links answer with a page (404/409/400), never a 5xx; the pages' query counts are pinned."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from console.tests.conftest import sign_in
from core.tenancy import platform_bypass, tenant_context
from tenants.models import Invite, InviteStatus, Membership
from tenants.services import invite_create, invite_revoke
from tenants.tests.factories import system_role

pytestmark = pytest.mark.django_db

PUBLIC = "https://qm.example.org"
NEW_PASSWORD = "a fresh and long passphrase 42"


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.QM_PUBLIC_URL = PUBLIC + "/"  # a trailing slash must not double in the links


def _link(message: Any) -> str:
    """The e-mail's link as the path the browser opens, after checking its origin."""
    url = re.search(r"https?://\S+", message.body).group(0)  # type: ignore[union-attr]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
    assert not parts.path.startswith("//")
    return f"{parts.path}?{parts.query}"


def _memberships(user: User) -> list[tuple[Any, str]]:
    with platform_bypass(reason="test", log=False):
        return list(Membership.objects.filter(user=user).values_list("tenant_id", "role__slug"))


def _invite(
    tenant: Any, actor: Any, email: str, django_capture_on_commit_callbacks: Any
) -> tuple[Invite, str]:
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        invite, _token = invite_create(tenant=tenant, actor=actor, email=email, role=system_role("member"))
    (message,) = mail.outbox
    return invite, _link(message)


# --- Forgotten password ---------------------------------------------------------------------------


def _ask_for_link(client: Client, email: str, django_capture_on_commit_callbacks: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        return client.post("/password/forgot/", {"email": email})


def test_signin_page__shown__links_to_forgotten_password() -> None:
    body = Client().get("/signin/").content.decode()
    assert 'href="/password/forgot/"' in body


def test_password_reset__link_from_the_email__new_password_works_old_does_not(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = UserFactory.create(email="ada@example.com")
    client = Client()
    answer = _ask_for_link(client, "ada@example.com", django_capture_on_commit_callbacks)
    assert "a link to choose a new password is on its way" in answer.content.decode()
    (message,) = mail.outbox
    link = _link(message)
    assert link.startswith("/password-reset?uid=")

    page = client.get(link)
    assert page.status_code == 200
    assert "For <strong>ada@example.com</strong>" in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    query = dict(part.split("=", 1) for part in urlsplit(link).query.split("&"))
    done = client.post(
        "/password-reset", {**query, "new_password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )

    assert done.status_code == 302
    assert done["Location"] == "/signin/?email=ada%40example.com"
    assert 'value="ada@example.com"' in client.get(done["Location"]).content.decode()
    assert sign_in(Client(), user).status_code == 401  # the old password: refused, the form again
    assert sign_in(Client(), user, password=NEW_PASSWORD).status_code == 302
    again = client.get(link)  # a link works once
    assert again.status_code == 400
    assert "invalid or has expired" in again.content.decode()


def test_password_forgot__unknown_address__same_answer_no_mail(
    django_capture_on_commit_callbacks: Any,
) -> None:
    answer = _ask_for_link(Client(), "nobody@example.com", django_capture_on_commit_callbacks)
    assert answer.status_code == 200
    assert "a link to choose a new password is on its way" in answer.content.decode()
    assert mail.outbox == []


def test_password_forgot__not_an_address__400_error_in_place() -> None:
    answer = Client().post("/password/forgot/", {"email": "not-an-address\x00"})
    assert answer.status_code == 400
    assert 'id="id_email_error"' in answer.content.decode()


def test_password_reset__weak_or_differing_passwords__400_errors_on_their_fields_password_kept(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = UserFactory.create(email="ada@example.com")
    client = Client()
    _ask_for_link(client, user.email, django_capture_on_commit_callbacks)
    query = dict(part.split("=", 1) for part in urlsplit(_link(mail.outbox[0])).query.split("&"))

    weak = client.post("/password-reset", {**query, "new_password": "short", "password_again": "short"})
    differing = client.post(
        "/password-reset", {**query, "new_password": NEW_PASSWORD, "password_again": "other"}
    )

    assert weak.status_code == 400
    assert re.search(r'id="id_new_password_error">[^<]*too short', weak.content.decode())
    assert differing.status_code == 400
    assert 'id="id_password_again_error">The two passwords differ.' in differing.content.decode()
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


@pytest.mark.parametrize(
    "query", ["", "?uid=x&token=y", "?uid=%00&token=%00", f"?uid={'A' * 5000}&token=1"], ids=str
)
def test_password_reset__bad_link__400_page_no_form(query: str) -> None:
    answer = Client().get(f"/password-reset{query}")
    assert answer.status_code == 400
    body = answer.content.decode()
    assert 'name="new_password"' not in body
    if "%00" not in query:  # NUL bytes are refused before any view (core's middleware)
        assert "invalid or has expired" in body


def test_password_reset_page__query_count__pinned(
    django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    UserFactory.create(email="ada@example.com")
    client = Client()
    _ask_for_link(client, "ada@example.com", django_capture_on_commit_callbacks)
    link = _link(mail.outbox[0])
    with django_assert_num_queries(1):  # the user the link names
        assert client.get(link).status_code == 200


# --- Invites --------------------------------------------------------------------------------------


def test_invite__new_person_from_the_email__account_membership_signed_in_on_the_tenant(
    tenant: Any, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _invite_row, link = _invite(tenant, owner, "newcomer@example.com", django_capture_on_commit_callbacks)
    assert link.startswith("/invites/accept?token=")
    client = Client()

    page = client.get(link).content.decode()
    assert "<h1>Join Acme Robotics</h1>" in page
    assert "<strong>newcomer@example.com</strong>" in page
    assert 'name="full_name"' in page
    token = urlsplit(link).query.split("=", 1)[1]
    done = client.post(
        "/invites/accept",
        {
            "token": token,
            "full_name": "Nia Newcomer",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )

    assert done.status_code == 302
    assert done["Location"] == f"/t/{tenant.pk}/"
    user = User.objects.get(email="newcomer@example.com")
    assert user.full_name == "Nia Newcomer"
    assert _memberships(user) == [(tenant.pk, "member")]
    overview = client.get(done["Location"]).content.decode()  # signed in: the tenant's overview
    assert "<h1>Acme Robotics</h1>" in overview
    assert "Welcome to Acme Robotics." in overview
    assert client.get(link).status_code == 409  # used


def test_invite__new_person_weak_password__400_in_place_no_account(
    tenant: Any, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _invite_row, link = _invite(tenant, owner, "newcomer@example.com", django_capture_on_commit_callbacks)
    token = urlsplit(link).query.split("=", 1)[1]
    answer = Client().post(
        "/invites/accept",
        {"token": token, "full_name": "Nia", "password": "password123", "password_again": "password123"},
    )
    assert answer.status_code == 400
    assert 'id="id_password_error"' in answer.content.decode()
    assert not User.objects.filter(email="newcomer@example.com").exists()


def test_invite__existing_account__signs_in_then_accepts(
    tenant: Any, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    existing = UserFactory.create(email="known@example.com")
    _invite_row, link = _invite(tenant, owner, existing.email, django_capture_on_commit_callbacks)
    client = Client()

    page = client.get(link).content.decode()
    assert "Sign in as known@example.com" in page
    assert 'name="password"' not in page  # no sign-up form for an address with an account
    signin_url = re.search(r'href="(/signin/\?[^"]+)"', page).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    next_url = client.get(signin_url)
    assert 'value="known@example.com"' in next_url.content.decode()
    back = client.post(signin_url, {"email": existing.email, "password": TEST_PASSWORD})
    assert back.status_code == 302
    assert back["Location"] == link
    accept_page = client.get(link).content.decode()
    assert "Accept and join Acme Robotics" in accept_page
    done = client.post("/invites/accept", {"token": urlsplit(link).query.split("=", 1)[1]})

    assert done.status_code == 302
    assert done["Location"] == f"/t/{tenant.pk}/"
    assert _memberships(existing) == [(tenant.pk, "member")]


def test_invite__signed_in_as_another_account__told_to_sign_out_post_refused_403(
    tenant: Any, owner: Any, signed_in: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _invite_row, link = _invite(tenant, owner, "someone@example.com", django_capture_on_commit_callbacks)
    stranger = UserFactory.create(email="stranger@example.com")
    client = signed_in(stranger)

    page = client.get(link).content.decode()
    answer = client.post("/invites/accept", {"token": urlsplit(link).query.split("=", 1)[1]})

    assert "You are signed in as <strong>stranger@example.com</strong>" in page
    assert answer.status_code == 200  # nothing offered to press: the page again, nothing done
    assert _memberships(stranger) == []


def test_invite__revoked__409_page_says_withdrawn_no_form(
    tenant: Any, owner: Any, django_capture_on_commit_callbacks: Any
) -> None:
    invite, link = _invite(tenant, owner, "someone@example.com", django_capture_on_commit_callbacks)
    invite_revoke(invite=invite, actor=owner)
    answer = Client().get(link)
    assert answer.status_code == 409
    body = answer.content.decode()
    assert "This invite was withdrawn." in body
    assert "<form" not in body
    with platform_bypass(reason="test", log=False):
        assert Invite.objects.get(pk=invite.pk).status == InviteStatus.REVOKED


@pytest.mark.parametrize(
    ("query", "status"),
    [("", 404), ("?token=", 404), ("?token=nope", 404), (f"?token={'x' * 5000}", 404), ("?token=%00", 400)],
    ids=str,
)
def test_invite__bad_token__404_page_nothing_of_any_tenant(query: str, status: int, tenant: Any) -> None:
    answer = Client().get(f"/invites/accept{query}")
    assert answer.status_code == status  # a NUL byte: refused before any view (core's middleware)
    body = answer.content.decode()
    assert tenant.name not in body
    assert "<form" not in body
    if status == 404:
        assert "This invite link is not valid." in body


def test_invite_page__query_count__pinned(
    tenant: Any, owner: Any, django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _invite_row, link = _invite(tenant, owner, "newcomer@example.com", django_capture_on_commit_callbacks)
    client = Client()
    # The invite with its tenant, role, team (under the bypass: 3 settings + 1), its inviter, and
    # whether the address has an account.
    with django_assert_num_queries(6):
        assert client.get(link).status_code == 200
