"""The console's forms: they parse and check the shape of input; the services decide the rest,
and their domain errors are shown in place (`show_domain_error`)."""

from __future__ import annotations

from django import forms

from core.errors import DomainError


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        max_length=4096,
        strip=False,  # spaces are part of a password
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="The 6 digits your authenticator app shows, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "autocapitalize": "off",
                "spellcheck": "false",
                "size": 12,
            }
        ),
    )


class EnrolCodeForm(CodeForm):
    code = forms.CharField(
        label="Code from the app",
        max_length=16,
        help_text="The 6 digits the app shows for Quartermaster once you have added it.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "size": 8}
        ),
    )


def _password(label: str, *, autocomplete: str = "new-password", help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=4096,
        strip=False,  # spaces are part of a password
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


STRENGTH_HELP = "At least 12 characters; not a common password, not like your name or e-mail."


class _NewPasswordPair(forms.Form):
    """A new password typed twice; the services judge its strength."""

    first_field = "new_password"

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        first, again = cleaned.get(self.first_field), cleaned.get("password_again")
        if first and again is not None and first != again:
            self.add_error("password_again", "The two passwords differ.")
        return cleaned


class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )


class ResetPasswordForm(_NewPasswordPair):
    # Named as accounts' password-reset service names its field errors.
    new_password = _password("New password", help_text=STRENGTH_HELP)
    password_again = _password("New password, again")


class InviteSignUpForm(_NewPasswordPair):
    first_field = "password"
    full_name = forms.CharField(
        label="Your name",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}),
    )
    # Named as tenants' invite_accept names its field errors.
    password = _password("Choose a password", help_text=STRENGTH_HELP)
    password_again = _password("Password, again")


class ThresholdForm(forms.Form):
    threshold = forms.DecimalField(
        label="Alert when the balance falls below",
        min_value=0,
        max_digits=20,
        decimal_places=6,
        help_text="In credits. You are alerted once each time the balance crosses it.",
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )


def show_domain_error(form: forms.Form, exc: DomainError, *, field: str | None = None) -> None:
    """Put a service's refusal on the form: its field errors on their fields (the others on
    the form), else its message on `field` (None: the form as a whole)."""
    placed = False
    for name, messages in exc.errors.items():
        form.add_error(name if name in form.fields else None, list(messages))
        placed = True
    if not placed:
        form.add_error(field, exc.detail)
