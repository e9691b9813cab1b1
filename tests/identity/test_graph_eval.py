"""Components against networkx; scores against scikit-learn and a hand-worked B-cubed example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scrm_lib.errors import ConfigError, ScrmError
from scrm_lib.identity.config import identity_config
from scrm_lib.identity.evaluate import score_clusters
from scrm_lib.identity.graph import cluster_accounts, components


def test_components_match_networkx():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(3)
    n = 2000
    src, dst = rng.integers(0, n, 1500), rng.integers(0, n, 1500)
    labels = components(n, src, dst)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    ours = {frozenset(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels)}
    theirs = {frozenset(c) for c in nx.connected_components(g)}
    assert ours == theirs


def test_cluster_labels_are_smallest_account():
    e = pd.DataFrame({"a": ["c", "e"], "b": ["b", "d"]})
    lab = cluster_accounts(pd.Series(["e", "d", "c", "b", "a"]), e)
    assert lab.to_dict() == {"e": "d", "d": "d", "c": "b", "b": "b", "a": "a"}


def test_pairwise_scores_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 40, 300)
    pred = np.where(rng.random(300) < 0.2, rng.integers(0, 60, 300), truth)
    ids = [f"x:{i}" for i in range(300)]
    s = score_clusters(
        pd.DataFrame({"account_id": ids, "person_id": pred}),
        pd.DataFrame({"account_id": ids, "person_id": truth}),
    )
    # sklearn counts ordered pairs: [[tn, fp], [fn, tp]]
    (_, fp), (fn, tp) = metrics.pair_confusion_matrix(truth, pred) / 2
    assert s["pairwise_precision"] == pytest.approx(tp / (tp + fp))
    assert s["pairwise_recall"] == pytest.approx(tp / (tp + fn))


def test_bcubed_hand_worked_example():
    # truth {a,b,c} {d}; predicted {a,b} {c,d}:
    # precision per item 1, 1, 1/2, 1/2 → 3/4; recall 2/3, 2/3, 1/3, 1 → 2/3
    ids = ["t:a", "t:b", "t:c", "t:d"]
    s = score_clusters(
        pd.DataFrame({"account_id": ids, "person_id": [1, 1, 2, 2]}),
        pd.DataFrame({"account_id": ids, "person_id": [1, 1, 1, 2]}),
    )
    assert s["bcubed_precision"] == pytest.approx(0.75)
    assert s["bcubed_recall"] == pytest.approx(2 / 3)
    assert s["pairwise_precision"] == pytest.approx(0.5)  # {a,b} right, {c,d} wrong
    assert s["pairwise_recall"] == pytest.approx(1 / 3)  # of ab, ac, bc


def test_scores_only_shared_accounts_and_errors():
    p = pd.DataFrame({"account_id": ["phone:+861", "t:a"], "person_id": [1, 1]})
    t = pd.DataFrame({"account_id": ["t:a"], "person_id": [9]})
    assert score_clusters(p, t)["accounts"] == 1
    with pytest.raises(ScrmError, match="nothing to score"):
        score_clusters(p, pd.DataFrame({"account_id": ["z:z"], "person_id": [1]}))
    with pytest.raises(ScrmError, match="person_id"):
        score_clusters(p, pd.DataFrame({"account_id": ["t:a"]}))


def test_config_validation():
    assert identity_config({"identity": {"threshold": 0.9}}).threshold == 0.9
    with pytest.raises(ConfigError, match="recipient_phone"):
        identity_config({"identity": {"link_kinds": ["phone", "recipient_phone"]}})
    with pytest.raises(ConfigError, match="hub_limit"):
        identity_config({"identity": {"hub_limit": 1}})
    with pytest.raises(ConfigError, match="unknown setting 'treshold'"):
        identity_config({"identity": {"treshold": 0.9}})


def test_exclusive_keeps_unique_best_partners_only():
    from scrm_lib.identity.matching import exclusive

    # w1 scores the same against two Tmall buyers: ambiguous, neither is kept;
    # w2's Tmall match is its unique best, but t3 prefers w3 (both WeCom): w2–t3 dropped
    pairs = pd.DataFrame(
        {
            "a": ["w1", "w1", "w2", "w3", "w4"],
            "b": ["t1", "t2", "t3", "t3", "d1"],
            "match_probability": [0.8, 0.8, 0.7, 0.9, 0.6],
        },
        index=[10, 11, 12, 13, 14],
    )
    plats = pd.Series(
        {
            "w1": "wecom",
            "w2": "wecom",
            "w3": "wecom,wechat",
            "w4": "wecom",
            "t1": "tmall",
            "t2": "tmall",
            "t3": "tmall",
            "d1": "douyin",
        }
    )
    got = exclusive(pairs, plats)
    assert got.index.tolist() == [10, 11, 12, 13, 14]
    assert got.tolist() == [False, False, False, True, True]


def test_rounds_setting_validated():
    with pytest.raises(ConfigError, match="rounds"):
        identity_config({"identity": {"rounds": 0}})
    assert identity_config({"identity": {"rounds": 2}}).rounds == 2


def test_records_take_a_name_like_nickname_and_pool_platforms(tmp_path):
    import duckdb

    from scrm_lib.identity.matching import account_records

    from .conftest import make_warehouse

    accounts = ["tmall:t1", "tmall:t2", "wechat:o1", "wechat:o2", "wecom:w1"]
    ids = [
        ("tmall:t1", "name", "张伟"),
        ("tmall:t2", "name", "张丽娟"),
        ("wechat:o1", "nickname", "张伟"),  # surname seen in typed names: a name
        ("wechat:o2", "nickname", "小王"),  # 小 is no surname here: not a name
        ("wechat:o2", "phone", "+8613912345678"),
        ("wecom:w1", "phone", "+8613912345678"),
    ]
    path = make_warehouse(tmp_path / "w.duckdb", accounts, ids)
    db = duckdb.connect(str(path))
    comp = pd.Series(
        ["tmall:t1", "tmall:t2", "wechat:o1", "wechat:o2", "wechat:o2"], index=accounts
    )
    rec = account_records(db, identity_config({}), comp).set_index("unique_id")
    db.close()
    assert rec.loc["wechat:o1", "name"] == "张伟"
    assert pd.isna(rec.loc["wechat:o2", "name"])
    assert rec.loc["wechat:o2", "mphone"] == "139****5678"
    assert rec.loc["wechat:o2", "platform"] == "wechat,wecom"


def test_a_phone_on_many_accounts_of_one_platform_is_a_hub(tmp_path):
    import duckdb

    from scrm_lib.identity.graph import deterministic_edges

    from .conftest import make_warehouse

    typed = "+8613800138000"  # typed by staff on four mini-program accounts
    accounts = ["wechat:o1", "wechat:o2", "wechat:o3", "wechat:o4", "wecom:w1", "youzan:y1"]
    ids = [(a, "phone", typed) for a in accounts[:4]] + [
        ("wecom:w1", "phone", "+8613912345678"),
        ("youzan:y1", "phone", "+8613912345678"),  # two platforms, one each: a person
    ]
    path = make_warehouse(tmp_path / "w.duckdb", accounts, ids)
    db = duckdb.connect(str(path))
    edges, hubs = deterministic_edges(db, identity_config({}))
    loose, _ = deterministic_edges(db, identity_config({"identity": {"hub_platform_limit": 4}}))
    db.close()
    assert hubs[["kind", "value", "n_accounts"]].values.tolist() == [["phone", typed, 4]]
    assert sorted(zip(edges["a"], edges["b"], strict=True)) == [("wecom:w1", "youzan:y1")]
    assert len(loose) == 4  # under a looser limit the typed phone links its accounts
    with pytest.raises(ConfigError, match="hub_platform_limit"):
        identity_config({"identity": {"hub_platform_limit": 0}})


def test_linkable_pairs_follow_shared_clues_only(tmp_path):
    import duckdb

    from scrm_lib.identity.evaluate import linkable_pairs

    from .conftest import make_warehouse

    accounts = ["youzan:y1", "tmall:t1", "wecom:w1", "douyin:d1", "tmall:t2", "wechat:o9"]
    ids = [
        ("youzan:y1", "phone", "+8613912345678"),
        ("tmall:t1", "phone_masked", "139****5678"),  # visible digits of y1's phone
        ("wecom:w1", "name", "刘洋"),  # shares nothing with the first two
        ("douyin:d1", "name", "張偉"),
        ("tmall:t2", "name", "张伟"),  # same pinyin as d1: a clue
        ("wechat:o9", "nickname", "向日葵"),
        ("tmall:t2", "address", "上海市 徐汇区"),
        ("wechat:o9", "address", "上海市徐汇区"),  # same address once spaces go
    ]
    path = make_warehouse(tmp_path / "w.duckdb", accounts, ids)
    truth = pd.DataFrame({"account_id": accounts, "person_id": ["A", "A", "A", "B", "B", "B"]})
    db = duckdb.connect(str(path))
    g = linkable_pairs(db, truth).set_index("account_id")["group"]
    tight = linkable_pairs(db, truth, hub_limit=1).set_index("account_id")["group"]
    db.close()
    assert g["youzan:y1"] == g["tmall:t1"] != g["wecom:w1"]
    assert g["douyin:d1"] == g["tmall:t2"] == g["wechat:o9"]  # name, then address: a chain
    # a clue on more accounts than the hub limit is no clue
    assert tight.nunique() == 6


def test_a_failed_em_pass_keeps_every_comparison(monkeypatch):
    # Splink replaces the linker's model with the pass's own (which sets the blocked-on
    # comparison aside) before it fails on an underflow: the model must not lose it
    import copy

    from splink.internals.linker_components.training import LinkerTraining

    from scrm_lib.identity.matching import train_model

    def failing_em(self, blocking_rule, **_):
        settings = self._linker._settings_obj
        core = copy.copy(settings.core_model_settings)
        core.comparisons = [c for c in core.comparisons if c.output_column_name != "name"]
        settings.core_model_settings = core
        raise ValueError("m_probability value 0.0 is below the minimum allowed value")

    monkeypatch.setattr(
        LinkerTraining, "estimate_parameters_using_expectation_maximisation", failing_em
    )
    rng = np.random.default_rng(0)
    names = np.array(["张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆"])
    n = 60
    records = pd.DataFrame(
        {
            "unique_id": [f"a{i}" for i in range(n)],
            "platform": rng.choice(["tmall", "wecom", "wechat"], n),
            "name": names[rng.integers(0, len(names), n)],
            "mphone": [f"13{i % 7}****{i % 9:04d}" for i in range(n)],
            "city": rng.choice(["上海市", "杭州市"], n),
        }
    )
    from scrm_lib.identity.matching import to_pinyin

    records["name_py"] = to_pinyin(records["name"])
    model = train_model(records, identity_config({}))
    kept = [c["output_column_name"] for c in model["splink"]["comparisons"]]
    assert kept == ["name", "mphone", "city", "platform"]


def test_labelled_m_is_fixed_and_unlabelled_fields_are_left_to_em():
    from scrm_lib.identity.matching import LABEL_M_FLOOR, _fix_labelled_m

    def level(m, null=False, fixed=False):
        out = {"m_probability": m, "fix_m_probability": fixed}
        return {**out, "is_null_level": True} if null else out

    model = {
        "comparisons": [
            {"output_column_name": "name",
             "comparison_levels": [level(None, null=True), level(0.9), level(None)]},
            {"output_column_name": "city",  # no labelled pair carried a city on both sides
             "comparison_levels": [level(None, null=True), level(None), level(None)]},
            {"output_column_name": "nick",
             "comparison_levels": [level(0.05, fixed=True)]},
        ]
    }  # fmt: skip
    out = _fix_labelled_m(model)
    name, city, nick = out["comparisons"]
    assert [lv["m_probability"] for lv in name["comparison_levels"][1:]] == [0.9, LABEL_M_FLOOR]
    assert all(lv["fix_m_probability"] for lv in name["comparison_levels"][1:])
    assert name["comparison_levels"][0]["fix_m_probability"] is False  # null level untouched
    assert not any(lv["fix_m_probability"] for lv in city["comparison_levels"])
    assert nick["comparison_levels"] == [level(0.05, fixed=True)]


def test_em_sample_keeps_whole_name_groups():
    from scrm_lib.identity.matching import _em_sample

    names = [f"name {i % 500}" for i in range(20_000)]
    r = pd.DataFrame({"unique_id": [f"a{i}" for i in range(20_000)], "name_py": names})
    keep = _em_sample(r, 4_000)
    assert 2_000 < keep.sum() < 6_000
    # a name group is in or out as a whole
    assert keep.groupby(r["name_py"]).nunique().max() == 1
    assert keep.equals(_em_sample(r, 4_000))  # the same on every build


def test_masked_alipay_mails_are_not_reported_as_hubs(tmp_path):
    import duckdb

    from scrm_lib.identity.step import stitch

    from .conftest import make_warehouse

    accounts = [f"tmall:t{i:02d}" for i in range(30)]
    ids = [(a, "alipay_masked", "y***@126.com") for a in accounts] + [
        (a, "alipay_masked", "138****8000") for a in accounts
    ]
    path = make_warehouse(tmp_path / "w.duckdb", accounts, ids)
    db = duckdb.connect(str(path))
    _, _, hubs = stitch(db, identity_config({"identity": {"probabilistic": False}}))
    db.close()
    assert hubs[["kind", "value"]].values.tolist() == [["alipay_masked", "138****8000"]]


def test_masked_phones_shared_by_chance_are_no_hubs(tmp_path):
    """40,000 Tmall buyers whose masked phones start 138: four share each 138****dddd."""
    import duckdb

    from scrm_lib.identity.matching import account_records, masked_hubs

    rng = np.random.default_rng(11)
    n = 40_000
    ends = rng.integers(0, 10_000, n)
    buyers = pd.DataFrame(
        {
            "account_id": [f"tmall:b{i}" for i in range(n)],
            "kind": "phone_masked",
            "value": [f"138****{e:04d}" for e in ends],
        }
    )
    # the shop's test phone typed on 60 Douyin orders, and four Youzan buyers whose
    # phones show one rare prefix (199, seen nowhere else): four of one platform on a
    # value chance gives a mean of 0.0004 accounts is typed, not drawn
    typed = pd.DataFrame(
        {
            "account_id": [f"douyin:d{i}" for i in range(60)] + [f"youzan:y{i}" for i in range(4)],
            "kind": ["phone_masked"] * 60 + ["phone"] * 4,
            "value": ["138****0000"] * 60 + ["+8619912340000"] * 4,
        }
    )
    ids = pd.concat([buyers, typed], ignore_index=True)
    db = duckdb.connect(str(tmp_path / "w.duckdb"))
    db.register("ids", ids)
    db.execute("CREATE TABLE identifiers AS SELECT * FROM ids")
    db.execute(
        "CREATE TABLE accounts AS SELECT DISTINCT account_id, NULL::VARCHAR AS native_id "
        "FROM identifiers"
    )
    cfg = identity_config({})
    hubs = masked_hubs(db, cfg).set_index("m")
    records = account_records(db, cfg)
    db.close()
    counts = buyers["value"].value_counts()
    # chance gives four per value here; the fixed limit of three per platform would drop
    # more than half of these buyers' phones (the values shared by four or more)
    assert (counts > cfg.hub_platform_limit).mean() > 0.5
    assert sorted(hubs.index) == ["138****0000", "199****0000"]
    assert hubs.loc["138****0000", "n_accounts"] == 60 + counts.get("138****0000", 0)
    assert hubs.loc["199****0000", "limit_one_platform"] == cfg.hub_platform_limit
    # the chance limit: Poisson(4) exceeded by at most 1% over ~10,000 values
    assert 12 <= hubs.loc["138****0000", "limit_one_platform"] <= 17
    kept = records.set_index("unique_id")["mphone"]
    tmall = kept[kept.index.str.startswith("tmall:")]
    assert tmall.notna().sum() == n - counts.get("138****0000", 0)
    assert kept[kept.index.str.startswith(("douyin:", "youzan:"))].isna().all()


def test_a_nickname_that_is_a_given_name_is_kept_for_matching(tmp_path):
    import duckdb

    from scrm_lib.identity.matching import account_records, given_name

    from .conftest import make_warehouse

    accounts = ["wechat:o1", "wechat:o2", "wechat:o3", "tmall:t1", "wechat:o4"]
    ids = [
        ("wechat:o1", "nickname", "🌸小芳"),  # a pet prefix and an emoji round a given name
        ("wechat:o1", "phone", "+8613912345678"),
        ("wechat:o2", "nickname", "阳光明媚"),  # a phrase, not a name
        ("wechat:o2", "phone", "+8613912345679"),
        ("wechat:o3", "nickname", "阿伟"),
        ("wechat:o3", "name", "李伟"),  # a typed name is compared as such
        ("tmall:t1", "name", "王芳"),
        ("tmall:t1", "phone_masked", "139****5678"),
        ("wechat:o4", "nickname", "欣怡~"),
        ("wechat:o4", "phone", "+8613812340000"),
    ]
    path = make_warehouse(tmp_path / "w.duckdb", accounts, ids)
    db = duckdb.connect(str(path))
    rec = account_records(db, identity_config({})).set_index("unique_id")
    db.close()
    assert rec["nick_given"].astype(object).where(rec["nick_given"].notna(), None).to_dict() == {
        "tmall:t1": None,
        "wechat:o1": "芳",
        "wechat:o2": None,
        "wechat:o3": None,
        "wechat:o4": "欣怡",
    }
    assert given_name(rec["name"]).to_dict()["tmall:t1"] == "芳"


def test_pinyin_by_character_reads_as_pypinyin_does():
    from pypinyin import Style, lazy_pinyin

    from scrm_lib.identity.matching import _pinyin_of, _plain_han

    # plain names, a traditional form, a polyphonic surname alone (曾 reads ceng) and in
    # a phrase pypinyin knows (曾经: ceng jing; 单于: chan yu), names with a phrase inside
    # (王国强), a character without a reading of its own, Latin letters, a mix
    names = ["张伟", "張偉", "欧阳娜娜", "曾", "曾经", "单于", "王国强", "陈红红", "〇芳",
             "Amy Wang", "王Amy", "李 娜"]  # fmt: skip
    for name in names:
        assert _pinyin_of(name) == " ".join(lazy_pinyin(name, style=Style.NORMAL)).lower(), name
    # the shortcut is taken where it can be, and only there
    assert [_plain_han(n) for n in ("张伟", "欧阳娜娜", "王国强", "单于", "王Amy")] == [
        True, True, False, False, False
    ]  # fmt: skip


def test_hub_kinds_report_the_same_hubs_of_those_kinds(tmp_path):
    import duckdb

    from scrm_lib.identity.graph import deterministic_edges

    from .conftest import make_warehouse

    accounts = [f"tmall:t{i}" for i in range(25)] + ["wecom:w1", "youzan:y1"]
    ids = [(a, "phone_masked", "138****8000") for a in accounts[:25]]  # the test phone
    ids += [(a, "name", "王芳") for a in accounts[:22]]  # a common name: no hub to report
    ids += [("wecom:w1", "phone", "+8613912345678"), ("youzan:y1", "phone", "+8613912345678")]
    path = make_warehouse(tmp_path / "w.duckdb", accounts, ids)
    db = duckdb.connect(str(path))
    cfg = identity_config({})
    every, all_hubs = deterministic_edges(db, cfg)
    edges, hubs = deterministic_edges(db, cfg, hub_kinds=["phone_masked"])
    db.close()
    assert sorted(all_hubs["kind"]) == ["name", "phone_masked"]
    assert hubs[["kind", "value", "n_accounts"]].values.tolist() == [
        ["phone_masked", "138****8000", 25]
    ]
    assert edges.equals(every) and len(edges) == 1
