"""The build step on a hand-made warehouse: hubs, gift phones, overrides, stable ids."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

from scrm_lib.engine import duckdb_connect
from scrm_lib.errors import ScrmError
from scrm_lib.identity.ledger import explain, summary
from scrm_lib.identity.overrides import add_override, read_overrides
from scrm_lib.identity.stable_ids import assign_person_ids
from scrm_lib.identity.step import run
from scrm_lib.warehouse.steps import StepContext, person_map

from .conftest import HUB


def _build(tiny, build_id, previous=None):
    path = tiny["tmp"] / f"{build_id}.duckdb"
    shutil.copy(tiny["warehouse"], path)
    con = duckdb_connect(path)
    counts = run(StepContext(con, tiny["settings"], build_id, previous_warehouse=previous))
    pm = person_map(con).to_pandas().set_index("account_id")["person_id"]
    return path, con, counts, pm


def test_deterministic_links_hub_and_gift_phone(tiny):
    _, con, counts, pm = _build(tiny, "b1")
    assert counts["person_accounts"] == 29
    assert pm["wechat:a"] == pm["wecom:a"] == pm["youzan:+8613912345678"]
    # a gift's recipient phone never links the buyer to the recipient
    assert pm["tmall:b"] != pm["youzan:+8613912345678"]
    # the shop test phone is a hub: flagged, and its 25 accounts stay apart
    assert pm[tiny["hub_accounts"]].nunique() == 25
    hubs = con.con.execute("SELECT kind, value, n_accounts FROM identity_hubs").fetchall()
    assert hubs == [("phone", HUB, 25)]
    why = explain(con, "youzan:+8613912345678")
    assert {e["rule"] for e in why["edges"]} == {"shared_unionid", "shared_phone"}
    assert all("****" in e["value"] for e in why["edges"] if e["kind"] == "phone")
    persons = con.con.execute(
        "SELECT n_accounts, platforms FROM persons WHERE person_id = ?", [pm["wechat:a"]]
    ).fetchone()
    assert persons == (3, "wechat,wecom,youzan")
    assert summary(con)["persons"] == 27


def test_overrides_survive_rebuild_and_ids_stay(tiny):
    state = tiny["settings"].state_db
    first, con1, _, pm1 = _build(tiny, "b1")
    con1.disconnect()
    add_override("split", "youzan:+8613912345678", reason="shared phone", username="t", path=state)
    add_override(
        "force_link", "tmall:b", "wechat:h00", reason="same buyer", username="t", path=state
    )
    assert read_overrides(path=state)["action"].tolist() == ["split", "force_link"]
    second, con, _, pm2 = _build(tiny, "b2", previous=first)
    hist = con.con.execute(
        "SELECT old_person_id, new_person_id, reason FROM person_id_history"
    ).df()
    con.disconnect()
    assert pm2["youzan:+8613912345678"] != pm2["wecom:a"]
    assert pm2["tmall:b"] == pm2["wechat:h00"]
    # the person keeps their id; the detached account is a new person
    assert pm2["wecom:a"] == pm1["wecom:a"]
    assert set(hist["reason"]) == {"split", "merge"}
    assert (pm1["wecom:a"], pm2["youzan:+8613912345678"], "split") in set(
        map(tuple, hist.to_numpy())
    )
    # a third build with no new data changes no id
    _, con3, _, pm3 = _build(tiny, "b3", previous=second)
    assert pm3.equals(pm2)
    assert con3.con.execute("SELECT count(*) FROM person_id_history").fetchone()[0] == 0
    audit = duckdb.connect(str(state), read_only=True)
    actions = [r[0] for r in audit.execute("SELECT action FROM audit ORDER BY ts").fetchall()]
    audit.close()
    assert actions == ["identity_split", "identity_force_link"]


def test_never_link_cuts_an_indirect_path(tiny):
    state = tiny["settings"].state_db
    # wechat:a and youzan are joined only through wecom:a
    add_override(
        "never_link", "wechat:a", "youzan:+8613912345678", reason="x", username="t", path=state
    )
    _, _, _, pm = _build(tiny, "b1")
    assert pm["wechat:a"] != pm["youzan:+8613912345678"]


def test_override_validation(tiny):
    state = tiny["settings"].state_db
    with pytest.raises(ScrmError, match="second account"):
        add_override("never_link", "tmall:b", None, reason="x", username="t", path=state)
    with pytest.raises(ScrmError, match="reason"):
        add_override("split", "tmall:b", reason=" ", username="t", path=state)
    with pytest.raises(ScrmError, match="not one of"):
        add_override("merge", "tmall:b", reason="x", username="t", path=state)  # type: ignore[arg-type]


def test_stable_ids_split_and_merge_rules():
    prev = pd.DataFrame({"account_id": list("abcd"), "person_id": ["P1", "P1", "P2", "P2"]})
    # a and b now apart; c and d joined with a
    new = pd.DataFrame({"account_id": list("abcd"), "component": ["a", "b", "a", "a"]})
    ids, hist = assign_person_ids(new, prev, build_id="b")
    got = ids.set_index("account_id")["person_id"]
    # P2 holds 2 of the 3 accounts of cluster a: cluster a keeps P2; P1 goes to b
    assert got["a"] == got["c"] == got["d"] == "P2"
    assert got["b"] == "P1"
    assert set(map(tuple, hist[["old_person_id", "new_person_id", "reason"]].to_numpy())) == {
        ("P1", "P2", "split")
    }
