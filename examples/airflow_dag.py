"""Run scrm's scheduled reports from Airflow (an example; Airflow is not a dependency of scrm).

One task every 15 minutes calls ``scrm report run-due``: scrm itself decides
which reports are due from ``schedules.toml`` and its state file, so a
report runs once per cron fire time however often the task runs, and the
task fails (red in the Airflow UI, retried by Airflow) when a report fails.
``--now`` passes the run's logical time, so a backfilled interval evaluates
the schedule at the time it stands for.

Copy this file into the DAGs folder and set ``SCRM_HOME`` to the project
folder (the one holding ``scrm.toml`` and ``schedules.toml``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

SCRM_HOME = os.environ.get("SCRM_HOME", "/srv/scrm")

with DAG(
    dag_id="scrm_reports",
    description="scrm report run-due: run the report notebooks that schedules.toml says are due",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,  # scrm runs a missed window once by itself
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    tags=["scrm", "reports"],
) as dag:
    BashOperator(
        task_id="run_due_reports",
        bash_command=(
            "cd {{ params.home }} && scrm report run-due --schedule schedules.toml "
            "--now {{ data_interval_end | ts }} --json"
        ),
        params={"home": SCRM_HOME},
        env={"SCRM_HOME": SCRM_HOME, "CI": "1"},
        append_env=True,
    )
