"""The automation build step: the checked rules and each one's audience on the day after
the latest order; a broken rules file degrades the step, never the build."""

from __future__ import annotations

import logging

from scrm_lib.config import load_settings
from scrm_lib.schema import MARTS
from scrm_lib.social.automation.step import run
from scrm_lib.warehouse.steps import StepContext
from tests.social.automation_home import home
from tests.social.test_automation_rules import EXPECTED


def test_the_step_writes_the_rules_with_their_audiences(tmp_path):
    con = home()
    try:
        counts = run(StepContext(con=con, settings=load_settings(tmp_path), build_id="b1"))
        df = con.table("automation_rules").execute()
    finally:
        con.disconnect()
    assert counts == {"automation_rules": len(EXPECTED)}
    assert tuple(df.columns) == MARTS["automation_rules"].schema.names
    # the latest order is on 9 December (local): audiences are those of the 10th
    assert dict(zip(df["rule"], df["audience"], strict=True)) == {
        rule: len(persons) for rule, persons in EXPECTED.items()
    }


def test_a_broken_rules_file_degrades_the_step(tmp_path, caplog):
    (tmp_path / "rules.toml").write_text("version = 1\n[[rule]]\nname = 'x'\n", "utf-8")
    (tmp_path / "scrm.toml").write_text('[automation]\nrules_file = "rules.toml"\n', "utf-8")
    con = home()
    try:
        with caplog.at_level(logging.WARNING, logger="scrm_lib"):
            counts = run(StepContext(con=con, settings=load_settings(tmp_path), build_id="b1"))
        n = con.table("automation_rules").count().execute()
    finally:
        con.disconnect()
    assert counts == {"automation_rules": 0} and n == 0
    assert "automation: no rules written" in caplog.text and "rule 'x'" in caplog.text
