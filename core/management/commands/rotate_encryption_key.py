"""Re-encrypt every value stored at rest under the first key of QM_ENCRYPTION_KEYS.

Rotation: put the new key first (QM_ENCRYPTION_KEYS=k2:NEW,k1:OLD), deploy, run this, then drop
the old key. It works batch by batch, each batch its own transaction under the audited platform
bypass, and skips rows already on the current key, so an interrupted run is simply run again.
Rows that cannot be decrypted (a key missing from the ring, a damaged value) are reported and
left as they are; the command then fails, so nobody drops a key that is still needed.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import pgtrigger
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model, Q, QuerySet

from core import crypto
from core.hooks import record_audit
from core.tenancy import platform_bypass

REASON = "manage.py rotate_encryption_key"


def _pending(model: type[Model], prefix: str) -> QuerySet[Any]:
    """Rows with at least one token not yet under the current key."""
    condition = Q()
    for field in model.ENCRYPTED_FIELDS:  # type: ignore[attr-defined]  # checked by encrypted_models
        condition |= Q(**{f"{field}__gt": ""}) & ~Q(**{f"{field}__startswith": prefix})
    return model._default_manager.filter(condition)


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width if not total else min(width, width * done // total)
    percent = 100 if not total else 100 * done // total
    return f"[{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total}"


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value under the first key of QM_ENCRYPTION_KEYS (re-runnable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Only count the rows still to re-encrypt.")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        ring = crypto.key_ring()
        prefix = crypto.token_prefix(ring.primary)
        models = crypto.encrypted_models()
        with platform_bypass(reason=REASON, log=False):
            totals = {model._meta.label: _pending(model, prefix).count() for model in models}
        self.stdout.write(
            f"Current key: {ring.primary} (key ring: {', '.join(ring.key_ids)}). "
            f"Rows to re-encrypt: {sum(totals.values())}."
        )
        if options["dry_run"]:
            for label, total in totals.items():
                self.stdout.write(f"  {label}: {total}")
            return
        with platform_bypass(reason=REASON, audit=True):
            pass  # the audited record that the bypass was opened for this run
        rotated: dict[str, int] = {}
        failures: list[str] = []
        for model in models:
            label = model._meta.label
            rotated[label] = self._rotate_model(model, ring, prefix, totals[label], batch_size, failures)
        with platform_bypass(reason=REASON, log=False):
            record_audit(
                action="encryption.key_rotated",
                severity="warning" if failures else "info",
                # A list, not a dict keyed by model: the audit log masks keys that look secret
                # ("tenants.Secret"). Only the models whose values moved (the list of every
                # model walked is `crypto.encrypted_models()`).
                details={
                    "key_id": ring.primary,
                    "rotated": [{"model": label, "rows": n} for label, n in rotated.items() if n],
                    "failed": len(failures),
                },
                system=True,
            )
        if failures:
            shown = "\n  ".join(failures[:50])
            raise CommandError(
                f"{len(failures)} value(s) could not be decrypted and keep their old key:\n  {shown}\n"
                "Put the missing key back in QM_ENCRYPTION_KEYS (or repair the rows) and run this again."
            )
        self.stdout.write(self.style.SUCCESS(f"Done: every encrypted value is under key {ring.primary}."))

    def _rotate_model(
        self,
        model: type[Model],
        ring: crypto.KeyRing,
        prefix: str,
        total: int,
        batch_size: int,
        failures: list[str],
    ) -> int:
        label = model._meta.label
        fields: tuple[str, ...] = model.ENCRYPTED_FIELDS  # type: ignore[attr-defined]  # see encrypted_models
        # Insert-only tables (setting history) refuse UPDATE by trigger. Rotation is the one
        # controlled exception: it rewrites ciphertexts only, each to the same plaintext.
        triggers = [f"{label}:{t.name}" for t in getattr(model._meta, "triggers", [])]
        done = rotated = 0
        last_pk: Any = None
        interactive = self.stdout.isatty()
        while True:
            with ExitStack() as stack:
                stack.enter_context(platform_bypass(reason=REASON, log=False))
                if triggers:
                    stack.enter_context(pgtrigger.ignore(*triggers))
                qs = _pending(model, prefix).order_by("pk")
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                batch = list(qs.select_for_update()[:batch_size])
                if not batch:
                    break
                for row in batch:
                    updates = {}
                    for field in fields:
                        token = getattr(row, field)
                        if not token or token.startswith(prefix):
                            continue
                        try:
                            context = row.encryption_context(field)
                            updates[field] = crypto.reencrypt(token, context=context, ring=ring)
                        except crypto.DecryptionError as exc:
                            failures.append(f"{label} {row.pk} {field}: {exc}")
                    if updates:
                        # A queryset update: no save() side effects, updated_at stays as it was.
                        model._default_manager.filter(pk=row.pk).update(**updates)
                        rotated += 1
                last_pk = batch[-1].pk
            done += len(batch)
            self.stdout.write(f"{label:<28} {_bar(done, total)}", ending="\r" if interactive else "\n")
        if interactive or not done:
            self.stdout.write(f"{label:<28} {_bar(done, total)}")
        return rotated
