"""Automation: who should get which message when, an outbox that respects consent,
caps, quiet hours and platform quotas, and the results measured against hold-outs.

scrm does not send messages. Rules (a versioned ``rules.toml``) select persons as
of a run date; each selected person gets a channel and an account to reach; a
salted-hash hold-out is drawn per rule; one suppression step applies consent, the
rule's window, quiet hours, platform quotas and the frequency cap; the outbox is kept
per run date for the sending tool (CSV, XLSX, JSON: masked, audited) and measured
back from the touches and orders that return.
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "automation_rules": ".analysis:automation_rules",
        "run_triggers": ".outbox:run_triggers",
        "automation_outbox": ".outbox:outbox",
        "automation_runs": ".outbox:list_runs",
        "automation_summary": ".outbox:outbox_summary",
        "export_outbox": ".outbox:export_outbox",
        "automation_results": ".results:automation_results",
        "suppress_outbox": ".suppression:suppress",
        "condition_words": ".words:condition_words",
    },
)
