"""The churn capability's build step (listed in :mod:`scrm_lib.warehouse.step_list`)."""

from scrm_lib.churn.scoring import run
from scrm_lib.warehouse.steps import Step

STEP = Step("churn", run, engines=("duckdb", "pyspark"))
