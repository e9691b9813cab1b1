"""The build steps, in the order ``scrm build`` runs them: one line per capability.

A capability's step reads what the steps above it wrote (identity's
``person_accounts`` before any per-person mart; each step writes its own part
of ``person_tags``, read by the later ones; churn reads what ``conversations``
tagged; ``referrals`` reads channels' acquisition and the message tags;
``tags_derived`` reads the marts written before it; ``automation`` last, its
rules read the tags and marts of them all).
"""

from scrm_lib.churn.step import STEP as churn
from scrm_lib.identity.step import STEP as identity
from scrm_lib.social.automation.step import STEP as automation
from scrm_lib.social.channels.step import STEP as channels
from scrm_lib.social.conversations.step import STEP as conversations
from scrm_lib.social.referrals.step import STEP as referrals
from scrm_lib.tags.step import STEP as tags
from scrm_lib.tags.step import STEP_LATE as tags_derived
from scrm_lib.value.step import STEP as value

STEPS = [identity, tags, value, conversations, churn, channels, referrals, tags_derived, automation]
