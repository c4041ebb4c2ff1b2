"""An agent's channels (slack, email, web): create, change, delete, each audited.

Credentials are never part of a channel's `config`: a channel names a Secret of the tenant's
locker (`secret`), and the config holds only what is not secret, checked per type:

- slack: `{"channel": "#ops"}` (a channel name or a Slack channel id) and a secret, the bot token;
- email: `{"address": "agent@example.com"}`; a secret is optional (the mailbox's credentials);
- web: `{"allowed_origins": ["https://app.example.com", ...]}`; no secret.

A config key that looks like a credential (token, password, secret, key, webhook) or a value that
looks like one (a Slack token) is refused with 400 `inline_secret`, so nobody stores one by
mistake where it would be shown and logged. The secret must be the agent's tenant's: the caller
resolves it in the tenant (another tenant's answers like a missing one), and the database's
trigger (agents migration 0001) refuses one of another tenant whatever the caller did.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import User
from agents.errors import invalid
from agents.models import Agent, AgentChannel, ChannelType
from audit.services import audit_record, changes
from core.errors import Conflict, InvalidInput
from tenants.models import Secret

MAX_ORIGINS = 20
SLACK_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{8,20})$")
# Key names that say "this is a credential"; their values belong in the secret locker.
SECRET_KEY = re.compile(r"(token|secret|passw|api[_-]?key|private|credential|webhook|auth)", re.I)
# Values that are credentials whatever their key (Slack tokens, bearer strings, long keys).
SECRET_VALUE = re.compile(r"^(xox[abposr]-|xapp-|bearer\s|sk-|qm_live_)", re.I)
CONFIG_KEYS: dict[str, frozenset[str]] = {
    ChannelType.SLACK: frozenset({"channel"}),
    ChannelType.EMAIL: frozenset({"address"}),
    ChannelType.WEB: frozenset({"allowed_origins"}),
}
INLINE_REFUSAL = "Secrets are referenced by secret_id (the tenant's secret locker), never inline."


def _config_error(message: str, *, code: str = "invalid_config") -> InvalidInput:
    return invalid("config", message, code=code)


def _refuse_inline_secrets(config: dict[str, Any]) -> None:
    for key, value in config.items():
        values = value if isinstance(value, list) else [value]
        if SECRET_KEY.search(str(key)) or any(
            isinstance(v, str) and SECRET_VALUE.match(v.strip()) for v in values
        ):
            raise _config_error(f"{key!r}: {INLINE_REFUSAL}", code="inline_secret")


def _origin(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 300:
        raise _config_error("Each allowed origin is a string such as https://app.example.com.")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise _config_error(f"{value!r} has a bad port.") from exc
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise _config_error(f"{value!r} is not an origin (scheme://host[:port], nothing after).")
    host = parts.hostname + (f":{port}" if port else "")
    return f"{parts.scheme}://{host}"


def clean_config(*, type: str, config: Any, secret: Secret | None) -> dict[str, Any]:
    """The channel's config, checked for its type (and normalised); 400 otherwise."""
    if type not in CONFIG_KEYS:
        raise invalid("type", f"Not a channel type: one of {', '.join(CONFIG_KEYS)}.")
    if not isinstance(config, dict):
        raise _config_error("The config is an object.")
    _refuse_inline_secrets(config)
    unknown = sorted(set(config) - CONFIG_KEYS[type])
    if unknown:
        raise _config_error(
            f"A {type} channel takes only {', '.join(sorted(CONFIG_KEYS[type]))}; not {', '.join(unknown)}."
        )
    if type == ChannelType.SLACK:
        channel = config.get("channel")
        if not isinstance(channel, str) or not SLACK_CHANNEL.match(channel):
            raise _config_error('A slack channel needs "channel": a name such as #ops or a channel id.')
        if secret is None:
            raise invalid("secret_id", "A slack channel needs the secret holding its bot token.")
        return {"channel": channel}
    if type == ChannelType.EMAIL:
        address = config.get("address")
        try:
            if not isinstance(address, str) or len(address) > 254:
                raise ValidationError("bad")
            validate_email(address)
        except ValidationError as exc:
            raise _config_error('An email channel needs "address": an e-mail address.') from exc
        return {"address": address.lower()}
    origins = config.get("allowed_origins")
    if not isinstance(origins, list) or not 1 <= len(origins) <= MAX_ORIGINS:
        raise _config_error(f'A web channel needs "allowed_origins": a list of 1 to {MAX_ORIGINS} origins.')
    if secret is not None:
        raise invalid("secret_id", "A web channel takes no secret.")
    return {"allowed_origins": sorted({_origin(o) for o in origins})}


def _check_secret(agent: Agent, secret: Secret | None) -> None:
    # Belt and braces: the caller resolved it in the tenant; the database checks again.
    if secret is not None and secret.tenant_id != agent.tenant_id:
        raise invalid("secret_id", "No such secret in this tenant.", code="not_found")


def _save(channel: AgentChannel) -> None:
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError as exc:
        if "agent_channel_one_per_type" in str(exc):
            raise Conflict(
                f"The agent already has a {channel.type} channel; change that one.", code="channel_exists"
            ) from exc
        # The same-tenant trigger on secret_id (or a secret deleted meanwhile).
        raise invalid("secret_id", "No such secret in this tenant.", code="not_found") from exc


def _state(channel: AgentChannel) -> dict[str, Any]:
    secret = str(channel.secret_id) if channel.secret_id else None
    return {"config": channel.config, "secret_id": secret, "is_active": channel.is_active}


@transaction.atomic
def channel_create(
    *,
    agent: Agent,
    actor: User | None,
    type: str,
    config: Any,
    secret: Secret | None = None,
    is_active: bool = True,
) -> AgentChannel:
    """Give an agent a channel of a type it has none of (409 channel_exists otherwise)."""
    _check_secret(agent, secret)
    channel = AgentChannel(
        tenant_id=agent.tenant_id,
        agent=agent,
        type=type,
        config=clean_config(type=type, config=config, secret=secret),
        secret=secret,
        is_active=is_active,
    )
    _save(channel)
    audit_record(
        action="agent_channel.created",
        tenant=agent.tenant_id,
        target=channel,
        details={"agent": str(agent.pk), "type": type, **_state(channel)},
        actor=actor,
    )
    return channel


_UNSET: Any = object()


@transaction.atomic
def channel_update(
    *,
    channel: AgentChannel,
    actor: User | None,
    config: Any = _UNSET,
    secret: Secret | None = _UNSET,
    is_active: bool | None = None,
) -> AgentChannel:
    """Change a channel's config, secret reference or is_active (its type is fixed); the config
    and secret are checked together for the type whenever either changes."""
    channel = AgentChannel.objects.select_for_update().select_related("agent").get(pk=channel.pk)
    before = _state(channel)
    if config is not _UNSET or secret is not _UNSET:
        new_secret = channel.secret if secret is _UNSET else secret
        _check_secret(channel.agent, new_secret)
        new_config = channel.config if config is _UNSET else config
        channel.config = clean_config(type=channel.type, config=new_config, secret=new_secret)
        channel.secret = new_secret
    if is_active is not None:
        channel.is_active = is_active
    _save(channel)
    diff = changes(before, _state(channel))
    if diff:
        audit_record(
            action="agent_channel.updated",
            tenant=channel.tenant_id,
            target=channel,
            details={"agent": str(channel.agent_id), "type": channel.type, "changes": diff},
            actor=actor,
        )
    return channel


@transaction.atomic
def channel_delete(*, channel: AgentChannel, actor: User | None) -> None:
    """Remove a channel (the secret it named stays in the locker)."""
    audit_record(
        action="agent_channel.deleted",
        tenant=channel.tenant_id,
        target=channel,
        details={"agent": str(channel.agent_id), "type": channel.type, **_state(channel)},
        actor=actor,
    )
    AgentChannel.objects.filter(pk=channel.pk).delete()
