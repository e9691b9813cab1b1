"""Who may see what: masking of personal data, users and roles, the audit trail,
the state store."""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "mask_frame": ".privacy:mask_frame",
        "export_frame": ".privacy:export_frame",
        "write_export": ".privacy:write_export",
        "record_audit": ".state:record_audit",
        "read_audit": ".state:read_audit",
    },
)
