"""The value capability's build step (listed in :mod:`scrm_lib.warehouse.step_list`)."""

from scrm_lib.value.persons import run
from scrm_lib.warehouse.steps import Step

STEP = Step("value", run, engines=("duckdb", "pyspark"))
