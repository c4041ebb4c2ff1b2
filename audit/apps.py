from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit.services import access_denied_record, audit_record
        from core.api import record_refusal
        from core.hooks import record_audit

        # core records the platform bypass, key rotation and refused requests through these
        # hooks (core is below audit and cannot import it).
        record_audit.register(audit_record)
        record_refusal.register(access_denied_record)
