"""The Automation page (自动化营销) on the built sample, checked against the kept outbox.

One run is kept for a date inside the sample (2026-10-20), plus a planted row to send to a
phone account, so masking has something to hide. Expected counts are taken from the kept
Parquet file with pandas, not from the page's own library calls.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

from scrm_lib.labels import label
from tests.apptest import open_titled, page_home, shown, use_home

PAGE = "views/automation.py"
TITLE = "自动化营销 / Automation"
DAY = "2026-10-20"
PHONE = "13812345678"
HEADS = ("规则 / Rules", "受众 / Audiences", "拦截原因 / Suppressed by reason",
         "发送清单 / Outbox", "效果 / Results against the hold-out")  # fmt: skip
NO_RUNS = (
    "还没有自动化运行：运行 `scrm triggers run --date YYYY-MM-DD`（或由营销、管理员在本页运行）"
    " / No automation runs yet: run `scrm triggers run --date YYYY-MM-DD` (or a marketer or "
    "admin runs a date on this page)"
)


def _settings(project: dict):
    from scrm_lib.config import load_settings

    return load_settings(project["home"]).with_overrides(
        warehouse=project["warehouse"], state_db=project["home"] / "state.duckdb"
    )


@pytest.fixture(scope="module")
def project(built_sample, tmp_path_factory):
    """The sample's home with its own warehouse, three users, one kept run, and one more row
    to send: a phone account on SMS (the sample's run may plan none)."""
    from scrm_lib.social.automation import run_triggers

    project = page_home(built_sample, tmp_path_factory, "automation_page")
    summary = run_triggers(DAY, project["warehouse"], settings=_settings(project))
    path = summary["path"]
    out = pd.read_parquet(path)
    row = out.iloc[[0]].copy()
    row = row.assign(row_id=f"{DAY}:birthday:P_PLANTED", rule="birthday", person_id="P_PLANTED",
                     channel="sms", platform="phone", account_id=f"phone:+86{PHONE}",
                     arm="send", send=True, status="planned", reason=None,
                     evidence="days_to_birthday=0")  # fmt: skip
    planted = pd.concat([out, row], ignore_index=True).astype(out.dtypes.to_dict())
    planted.to_parquet(path, index=False)
    return project | {"outbox": path}


@pytest.fixture
def env(project, monkeypatch):
    return use_home(project, monkeypatch)


@pytest.fixture
def downloads(monkeypatch) -> list[tuple[str, bytes]]:
    """Every file a download button hands out: made here as the click would make it."""
    got: list[tuple[str, bytes]] = []
    add_deferred = MediaFileManager.add_deferred

    def deferred(self, data, mimetype, coordinates, file_name=None, **kw):
        made = data()
        got.append((file_name or "", made if isinstance(made, bytes) else made.encode()))
        return add_deferred(self, data, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", deferred)
    return got


def page(user: str = "mark", role: str = "marketer"):
    return open_titled(PAGE, TITLE, user, role)


def table(at, column: str) -> pd.DataFrame:
    found = [d.value for d in at.dataframe if label(column) in d.value.columns]
    assert found, f"no table with {label(column)}"
    return found[0]


def audit(project: dict) -> pd.DataFrame:
    from scrm_lib.access.state import read_audit

    return read_audit(path=project["home"] / "state.duckdb")


@pytest.mark.parametrize(("user", "role"), [("vera", "viewer"), ("mark", "marketer"),
                                            ("ada", "admin")])  # fmt: skip
def test_the_page_opens_for_every_role_and_only_marketers_and_admins_run_or_export(
    env, downloads, user, role
):
    at = page(user, role)
    heads = [h.value for h in at.subheader]
    assert all(h in heads for h in HEADS), heads
    rules = table(at, "condition")
    assert len(rules) >= 10 and rules[label("condition")].str.contains(r"[\u4e00-\u9fff]").all()
    # conditions in words: no measure, event type or operator by its machine name
    raw = r"days_since|days_until|unpaid_hours|page_view|has_tag|>=|<=|=="
    assert not rules[label("condition")].str.contains(raw).any()
    runs = [b for b in at.button if b.key == "auto_run"]
    buttons = at.get("download_button")
    if role == "viewer":
        assert not runs and not buttons and not downloads
        captions = " ".join(c.value for c in at.caption)
        assert "needs the marketer or admin role" in captions
        assert "Export needs the marketer or admin role" in captions
    else:
        assert len(runs) == 1 and len(buttons) == 3
    assert (len([t for t in at.toggle if t.key == "unmask_auto_outbox"]) == 1) == (role == "admin")


def test_the_audiences_and_suppression_are_the_kept_outbox(env):
    out = pd.read_parquet(env["outbox"])
    at = page("vera", "viewer")
    by_rule = table(at, "held_out").set_index(label("rule"))
    planned = out["status"] == "planned"
    for rule, part in out.groupby("rule"):
        row = by_rule.loc[rule]
        assert row[label("rows_in")] == len(part)
        assert row[label("planned")] == (part["status"] == "planned").sum()
        assert row[label("suppressed")] == (part["status"] == "suppressed").sum()
        assert row[label("to_send")] == part["send"].sum()
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["读入 / Rows in"] == f"{len(out):,}"
    assert tiles["已拦截 / Suppressed"] == f"{(~planned).sum():,}"
    reasons = table(at, "reason")
    assert reasons[label("rows")].sum() == (~planned).sum()
    assert len(at.get("plotly_chart")) >= 1
    # evidence and reasons in words, never the machine names
    evidence = table(at, "evidence")[label("evidence")]
    assert evidence.str.contains(r"[\u4e00-\u9fff]").all(), set(evidence)
    assert not evidence.str.contains(r"days_since|days_to|silent_days|==").any()
    assert not set(reasons[label("reason")]) & {"opt_out", "no_account", "quota", "window"}


def test_results_show_an_uplift_with_its_interval_per_rule(env):
    at = page("vera", "viewer")
    res = table(at, "uplift")
    assert "全部规则 / All rules" in set(res[label("title")])
    with_ci = res[res[label("uplift")].str.contains("–")]
    assert len(with_ci), "no rule with an interval against its hold-out"


@pytest.mark.parametrize(("user", "role"), [("vera", "viewer"), ("mark", "marketer")])
def test_phones_are_masked_for_viewers_and_marketers_in_the_page_and_downloads(
    env, downloads, user, role
):
    at = page(user, role)
    at.selectbox(key="auto_rule").set_value("birthday").run()
    assert not at.exception, at.exception
    text = shown(at)
    assert PHONE not in text
    accounts = table(at, "account_id")[label("account_id")].astype(str).tolist()
    assert "phone:138****5678" in accounts
    for name, data in downloads:
        assert PHONE not in data.decode("utf-8", errors="ignore"), name
    if role == "marketer":
        assert {n.rsplit(".", 1)[1] for n, _ in downloads} == {"csv", "xlsx", "json"}
        rows = json.loads(dict(downloads)[f"outbox_{DAY}.json"])
        assert "phone:138****5678" in {r["account_id"] for r in rows}
        exports = audit(env)
        mine = exports[(exports["username"] == user) & (exports["action"] == "export")]
        assert set(mine["what"]) == {f"automation_outbox:{DAY}"} and len(mine) >= 3


def test_an_admin_unmask_is_audited(env):
    at = page("ada", "admin")
    assert PHONE not in shown(at)
    at.selectbox(key="auto_rule").set_value("birthday").run()
    at.toggle(key="unmask_auto_outbox").set_value(True).run()
    assert not at.exception, at.exception
    assert f"phone:+86{PHONE}" in table(at, "account_id")[label("account_id")].tolist()
    log = audit(env)
    mine = log[(log["username"] == "ada") & (log["action"] == "unmask")]
    assert len(mine) == 1 and mine.iloc[0]["what"] == f"automation_outbox:{DAY}"
    assert mine.iloc[0]["role"] == "admin"


def test_a_marketer_runs_a_date_and_the_run_is_audited(env):
    at = page("mark", "marketer")
    at.date_input(key="auto_date").set_value(pd.Timestamp("2026-10-21").date()).run()
    at.button(key="auto_run").click().run()
    assert not at.exception, at.exception
    assert any("2026-10-21" in s.value for s in at.success), [e.value for e in at.error]
    assert (env["home"] / "automation" / "outbox" / "2026-10-21.parquet").exists()
    log = audit(env)
    runs = log[log["action"] == "run_automation"]
    assert runs.iloc[-1]["what"] == "automation_outbox:2026-10-21"
    assert runs.iloc[-1]["username"] == "mark"
    (env["home"] / "automation" / "outbox" / "2026-10-21.parquet").unlink()  # the others read DAY


def test_without_runs_the_page_says_how_to_run_one_in_one_line(env, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    at = page("vera", "viewer")
    assert [i.value for i in at.info] == [NO_RUNS]
    assert not at.error and not at.warning
    assert "规则 / Rules" in [h.value for h in at.subheader]
