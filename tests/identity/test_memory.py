"""Bounded blocking and memory caps of the probabilistic stage (the 1M-person OOM)."""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.errors import ConfigError
from scrm_lib.identity.config import identity_config
from scrm_lib.identity.matching import _settings, _splink, name_blocks


def _records() -> pd.DataFrame:
    # 4 × "zhang wei" (3 in 上海市, 1 without city), 2 × "li na", 1 × "wang fang"
    return pd.DataFrame(
        {
            "name_py": ["zhang wei"] * 4 + ["li na"] * 2 + ["wang fang", None],
            "city": ["上海市", "上海市", "上海市", None, "北京市", None, "北京市", "北京市"],
            "birthday": ["1990-01-02", "1990-01-02", None, None, None, None, None, None],
        }
    )


def test_small_blocks_keep_the_pinyin():
    # every block within the limit: the key is the pinyin itself (same pairs as before)
    keys = name_blocks(_records(), max_block=10)
    assert keys.tolist() == ["zhang wei"] * 4 + ["li na"] * 2 + ["wang fang", None]


def test_big_block_splits_by_city_and_drops_the_rest(caplog):
    keys = name_blocks(_records(), max_block=3)
    # zhang wei (4 > 3) splits by city: 3 in 上海市 fit, the one without city has no key
    assert keys.tolist() == ["zhang wei|上海市"] * 3 + [None] + ["li na"] * 2 + ["wang fang", None]
    keys = name_blocks(_records(), max_block=2)
    # 上海市 still holds 3 > 2: split again by birthday; who has none is left out, and said so
    assert keys.tolist()[:4] == ["zhang wei|上海市|1990-01-02"] * 2 + [None, None]
    assert "2 records with a common name" in caplog.text
    keys = name_blocks(_records(), max_block=1)
    # blocks of one compare nothing; every split name lacking a field is left out
    assert keys.tolist() == [None] * 4 + ["li na|北京市", None, "wang fang", None]


def test_compared_pairs_bounded_by_the_limit():
    # 5000 records on one name over 10 cities: n²/2 pairs whole, ≤ 10 · 500²/2 split
    r = pd.DataFrame(
        {
            "name_py": ["zhang wei"] * 5000,
            "city": [f"c{i % 10}" for i in range(5000)],
            "birthday": None,
        }
    )
    sizes = name_blocks(r, max_block=500).value_counts()
    assert sizes.max() == 500
    assert (sizes * (sizes - 1) // 2).sum() == 10 * 500 * 499 // 2


def test_prediction_blocks_on_the_bounded_key():
    settings = _settings(["name", "name_py", "mphone", "city"]).create_settings_dict("duckdb")
    sql = [r["blocking_rule"] for r in settings["blocking_rules_to_generate_predictions"]]
    # every rule is one precomputed key whose blocks are bounded (matching.bounded_key,
    # name_blocks): never a raw column such as the city or a name of thousands
    assert sql[:2] == ['l."blk_mphone" = r."blk_mphone"', 'l."name_block" = r."name_block"']
    assert 'l."blk_name_city" = r."blk_name_city"' in sql
    assert all(rule.startswith(('l."blk_', 'l."name_block"')) for rule in sql)


def test_splink_database_is_memory_capped():
    df = pd.DataFrame(
        {"unique_id": ["a", "b"], "name": ["张伟", "李娜"], "name_py": ["zhang wei", "li na"]}
    )
    df["name_block"] = df["name_py"]
    ctx = _splink(df, _settings(["name", "name_py"]), "300MB")
    with ctx:
        # DuckDB reports the cap in MiB: 300 MB = 286.1 MiB, not its 80%-of-RAM default
        limit = ctx.db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit.startswith("286")
        assert ctx.db.execute("SELECT current_setting('temp_directory')").fetchone()[0] == (
            ctx.spill.name
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"max_block": 0},
        {"em_max_pairs": "many"},
        {"max_block": True},
        {"splink_memory_limit": "lots"},
    ],
)
def test_config_rejects_bad_bounds(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        identity_config({"identity": bad})


def test_config_defaults_bound_em_and_blocks():
    cfg = identity_config({})
    assert cfg.em_max_pairs == 1e7 and cfg.max_block == 1000
    assert identity_config({"identity": {"splink_memory_limit": "512MB"}}).splink_memory_limit == (
        "512MB"
    )


def test_steps_lower_the_warehouse_cap_and_restore_it():
    from types import SimpleNamespace

    from scrm_lib.engine import duckdb_connect
    from scrm_lib.warehouse.steps import StepContext, _bytes, _cap_engine

    assert _bytes("3GB") == 3e9 and _bytes("1.5 GiB") == 1.5 * 2**30
    con = duckdb_connect()
    con.raw_sql("SET memory_limit = '6GB'")
    ctx = StepContext(con=con, settings=SimpleNamespace(extra={}), build_id="t")
    old = _cap_engine(ctx)
    # DuckDB reads 6GB as 6·10⁹ bytes and reports it back rounded: "5.5 GiB"
    assert _bytes(old) == pytest.approx(6e9, rel=0.05)
    limit = con.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert _bytes(limit) == pytest.approx(3e9, rel=0.05)  # "2.7 GiB"
    # a cap already below the steps' is left alone
    assert _cap_engine(ctx) is None
    with pytest.raises(ConfigError, match="memory_limit"):
        _cap_engine(
            StepContext(
                con=con,
                settings=SimpleNamespace(extra={"steps": {"memory_limit": "x"}}),
                build_id="t",
            )
        )


def test_candidate_pairs_count_each_scored_pair_once():
    from scrm_lib.identity.config import IdentityConfig
    from scrm_lib.identity.matching import to_pinyin
    from scrm_lib.identity.trainable import ProbabilisticStage

    # a-b share a name, a city and a masked phone (several keys), c-d a masked phone
    # only; e shares a city with a and b, which no key blocks on alone
    r = pd.DataFrame(
        {
            "unique_id": list("abcde"),
            "name": ["王芳", "王芳", "李娜", "赵敏", "张伟"],
            "mphone": ["138****0001", "138****0001", "139****0002", "139****0002", None],
            "city": ["上海市", "上海市", "北京市", "杭州市", "上海市"],
            "platform": ["tmall", "wecom", "tmall", "douyin", "tmall"],
        }
    )
    r["name_py"] = to_pinyin(r["name"])
    stage = ProbabilisticStage(IdentityConfig())
    stage.fit(r)
    assert stage.report.candidate_pairs == 0  # nothing scored yet
    stage.edges(r)
    assert stage.report.candidate_pairs == 2
