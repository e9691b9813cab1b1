"""The build steps, in the order ``scrm build`` runs them: one line per capability.

A capability's step reads what the steps above it wrote (identity's
``person_accounts`` before any per-person mart).
"""

from scrm_lib.churn.step import STEP as churn
from scrm_lib.identity.step import STEP as identity
from scrm_lib.value.step import STEP as value

STEPS = [identity, value, churn]
