"""The tagger's scores on the labelled set: scored once per fingerprint, then read back.

``evaluate`` scores on the spot (seconds: jieba's dictionary, snownlp); ``evaluation``
keeps the scores beside the models, keyed by what they depend on, so a report reads
them. Each test points the models folder at its own empty one, holding only links to
the trained models, so nothing kept by another run is read.
"""

from __future__ import annotations

import json
import logging
import math

import pytest

from scrm_lib.config import load_settings
from scrm_lib.social.conversations import evaluate as ev
from scrm_lib.social.conversations.analysis import evaluate_tagger
from scrm_lib.social.conversations.dictionary import PhraseTagger, load_taxonomy
from scrm_lib.social.conversations.models import load_or_train, models_dir


def same(a, b) -> bool:
    """Equal, NaN equal to NaN (a metric of an intent never predicted is NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.fixture(scope="module")
def trained():
    """The real models folder, with both models in it."""
    for kind in ("sentiment", "intents"):
        load_or_train(kind)
    return models_dir()


@pytest.fixture
def project(trained, tmp_path, monkeypatch):
    """An empty project home and an empty models folder linking to the trained models."""
    models = tmp_path / "models"
    models.mkdir()
    for kind in ("sentiment", "intents"):
        (models / kind).symlink_to(trained / kind, target_is_directory=True)
    monkeypatch.setenv("SCRM_MODELS_DIR", str(models))
    home = tmp_path / "home"
    home.mkdir()
    return {"settings": load_settings(home), "home": home, "kept": models / "evaluation"}


@pytest.fixture(scope="module")
def on_the_spot():
    return ev.evaluate(settings=load_settings())


def refuse(*args, **kwargs):
    raise AssertionError("scored again where the kept scores should have been read")


def test_the_kept_scores_are_the_scores_made_on_the_spot(project, on_the_spot, monkeypatch):
    settings = project["settings"]
    assert not project["kept"].exists()
    first = ev.evaluation(settings=settings)  # nothing kept yet: scored here
    assert same(first, on_the_spot)
    key = ev.fingerprint(settings=settings)
    kept = json.loads((project["kept"] / f"{key}.json").read_text("utf-8"))
    assert same(kept, on_the_spot)
    assert on_the_spot["macro_f1"] > 0.5 and on_the_spot["snownlp_sentiment_accuracy"] > 0
    # read back, not scored: the same numbers, the same types
    monkeypatch.setattr(ev, "evaluate", refuse)
    assert same(ev.evaluation(settings=settings), on_the_spot)
    assert same(evaluate_tagger(settings=settings), on_the_spot)


def test_without_kept_scores_or_a_place_to_keep_them_it_still_answers(project, monkeypatch):
    settings = project["settings"]
    scored = []

    def fake(path=None, *, settings=None, peer=True):
        scored.append(peer)
        return {"macro_f1": 0.5 + len(scored) / 100}

    monkeypatch.setattr(ev, "evaluate", fake)
    kept = project["kept"] / f"{ev.fingerprint(settings=settings)}.json"
    # a file where the folder should be: nothing can be kept, every call scores
    project["kept"].write_text("", "utf-8")
    assert ev.evaluation(settings=settings) == {"macro_f1": 0.51}
    assert ev.evaluation(settings=settings) == {"macro_f1": 0.52}
    project["kept"].unlink()
    # a kept file cut short is scored again and replaced
    project["kept"].mkdir()
    kept.write_text('{"macro_f1": 0.', "utf-8")
    assert ev.evaluation(settings=settings) == {"macro_f1": 0.53}
    assert json.loads(kept.read_text("utf-8")) == {"macro_f1": 0.53}
    assert ev.evaluation(settings=settings) == {"macro_f1": 0.53}
    assert len(scored) == 3
    assert [p.name for p in project["kept"].iterdir()] == [kept.name]  # no temporary left


def test_another_taxonomy_threshold_or_labelled_set_is_scored_again(project, monkeypatch,
                                                                    tmp_path):  # fmt: skip
    settings, home = project["settings"], project["home"]
    shipped = ev.fingerprint(settings=settings)
    assert shipped == ev.fingerprint(settings=load_settings(home))  # stable
    assert ev.fingerprint(settings=settings, peer=False) != shipped

    tax = tmp_path / "tax.toml"
    tax.write_text('version = "brand-1"\n[intents.purchase_intent]\nphrases = ["上车"]\n'
                   '[intents.other]\nphrases = []\n', "utf-8")  # fmt: skip
    (home / "scrm.toml").write_text(f'[conversations]\ntaxonomy = "{tax}"\n', "utf-8")
    brand = ev.fingerprint(settings=load_settings(home))
    tax.write_text(tax.read_text("utf-8").replace("上车", "上车了"), "utf-8")
    edited = ev.fingerprint(settings=load_settings(home))
    (home / "scrm.toml").write_text("[conversations]\nclassifier_min_proba = 0.3\n", "utf-8")
    bar = ev.fingerprint(settings=load_settings(home))
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(ev._labelled_path(None).read_text("utf-8") + "\n", "utf-8")
    other_set = ev.fingerprint(labelled, settings=settings)
    assert len({shipped, brand, edited, bar, other_set}) == 5

    # the shipped taxonomy's scores kept; a project that replaces it gets its own
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: {"taxonomy": "shipped"})
    ev.evaluation(settings=settings)
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: {"taxonomy": "brand"})
    (home / "scrm.toml").write_text(f'[conversations]\ntaxonomy = "{tax}"\n', "utf-8")
    assert ev.evaluation(settings=load_settings(home)) == {"taxonomy": "brand"}
    assert ev.evaluation(settings=settings) == {"taxonomy": "shipped"}


def test_a_missing_taxonomy_is_named_not_kept(project):
    from scrm_lib.errors import ConfigError

    home = project["home"]
    (home / "scrm.toml").write_text('[conversations]\ntaxonomy = "nowhere.toml"\n', "utf-8")
    assert ev.fingerprint(settings=load_settings(home)) is None
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        ev.evaluation(settings=load_settings(home))


def test_loading_jiebas_dictionary_says_nothing(caplog):
    import jieba

    # DEBUG is jieba's own level on import: its loading lines would reach its stderr
    # handler, and through the root logger this test's
    with caplog.at_level(logging.DEBUG, logger="jieba"):
        PhraseTagger(load_taxonomy())
        assert jieba.default_logger.level == logging.DEBUG  # put back for whoever wants them
    said = [r.getMessage() for r in caplog.records if r.name == "jieba"]
    assert not said, said
