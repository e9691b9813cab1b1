"""Conversations: intent and sentiment of chat messages, person tags and service KPIs.

Every message of the WeCom archive, mini-program customer service and the
brand's Douyin and Xiaohongshu comments gets an intent (高意向, 需要讲解,
logistics, returns, order service, complaint, churn risk, praise, other; staff
for staff messages) from a versioned phrase dictionary, else a small trained
classifier, and a sentiment; each tag says which layer made it and, for the
dictionary, the phrase. Persons get recent-intent tags; private chats become
conversations with first-response and resolution times in business hours.
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "tag_messages": ".analysis:tag_messages",
        "tag_file": ".analysis:tag_file",
        "message_intents": ".analysis:message_intents",
        "sentiment_trend": ".analysis:sentiment_trend",
        "high_intent_persons": ".analysis:high_intent_persons",
        "service_view": ".analysis:service_view",
        "survey_view": ".analysis:survey_view",
        "evaluate_tagger": ".analysis:evaluate_tagger",
    },
)
