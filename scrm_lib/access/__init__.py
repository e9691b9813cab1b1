"""Who may see what: masking of personal data, users and roles, the audit trail,
the state store."""
