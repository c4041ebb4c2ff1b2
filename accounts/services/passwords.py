"""Passwords: changing one's own, and resetting a forgotten one through an e-mailed link.

A reset link carries the user's id (base64) and a token of Django's `default_token_generator`:
the token is bound to the password hash and the last login, so it stops working once used (the
password changes) or after `PASSWORD_RESET_TIMEOUT`. Asking for a link answers the same whether
or not the address has an account; the e-mail leaves only once the request's transaction has
committed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts import selectors
from accounts.models import User, UserSession
from accounts.services import lockout
from accounts.services.auth import AuthenticationError, password_check, sessions_revoke_all
from audit.models import Severity
from audit.services import audit_record
from core.errors import InvalidInput

RESET_SUBJECT = "Reset your Quartermaster password"


def _validated(password: str, user: User, field: str = "new_password") -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            "The password is not acceptable.", code="validation_error", errors={field: exc.messages}
        ) from exc
    return password


def password_change(
    *,
    request: HttpRequest,
    user: User,
    current_password: str,
    new_password: str,
    session: UserSession | None,
) -> None:
    """Change one's password; every other session ends.

    The current password is checked like a login (a wrong one counts towards the lockout, and
    a locked-out address is refused), so a stolen access token cannot be used to guess it.
    That check commits on its own; the change is one transaction after it.
    """
    try:
        password_check(request=request, email=user.email, password=current_password, known_device=True)
    except AuthenticationError:
        raise InvalidInput(
            "The current password is wrong.",
            code="wrong_password",
            errors={"current_password": ["Wrong password."]},
        ) from None
    with transaction.atomic():
        user.set_password(_validated(new_password, user))
        user.save(update_fields=["password", "updated_at"])
        sessions_revoke_all(user=user, reason="password_changed", actor=user, keep=session)
        audit_record(action="auth.password_changed", target=user, severity=Severity.WARNING, actor=user)


def password_reset_link(*, user: User) -> str:
    """The link of a reset e-mail: the public URL's reset page with the user's id and a token."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return f"{settings.QM_PUBLIC_URL.rstrip('/')}/password-reset?uid={uid}&token={token}"


def password_reset_request(*, email: str) -> None:
    """E-mail a reset link to the active account with this address, if there is one.

    Nothing tells the caller which it was: no error, no return value, and no e-mail for an
    unknown address. It writes nothing; the e-mail leaves once the caller's transaction commits
    (the request's), and never for one that rolls back.
    """
    user = selectors.user_get_active_by_email(email=email)
    if user is None:
        return
    body = render_to_string(
        "emails/password_reset.txt", {"user": user, "link": password_reset_link(user=user)}
    )
    recipient = user.email
    transaction.on_commit(lambda: send_mail(RESET_SUBJECT, body, None, [recipient]))


def password_reset_user(*, uid: str, token: str) -> User:
    """The active user a reset link names, if its token is valid; else InvalidInput
    `invalid_reset_token` (a malformed id, an unknown or inactive user, a used or expired token
    answer alike)."""
    try:
        user_id = force_str(urlsafe_base64_decode(uid))
        user = selectors.user_get_active(user_id=user_id)
    except (ValueError, TypeError, OverflowError, ValidationError):  # not an id at all
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise InvalidInput("The reset link is invalid or expired.", code="invalid_reset_token")
    return user


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link's `uid` and `token` (password_reset_complete)."""
    user = password_reset_user(uid=uid, token=token)
    password_reset_complete(user=user, new_password=new_password)
    return user


@transaction.atomic
def password_reset_complete(*, user: User, new_password: str) -> None:
    """Set a new password from a reset link: every session ends, the lockout is lifted. It
    issues no tokens: the user logs in again, second factor included."""
    user.set_password(_validated(new_password, user))
    user.save(update_fields=["password", "updated_at"])
    sessions_revoke_all(user=user, reason="password_reset", actor=None)
    lockout.failures_forget(email=user.email)
    audit_record(action="auth.password_reset", target=user, severity=Severity.WARNING, actor=user)
