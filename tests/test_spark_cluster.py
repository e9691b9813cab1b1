"""The test cluster itself: a failed start leaves no process behind and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import spark_unavailable
from tests.spark_cluster import StandaloneCluster, _running


@pytest.mark.spark
@pytest.mark.slow
def test_a_cluster_that_cannot_start_stops_what_it_started(tmp_path: Path) -> None:
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = StandaloneCluster(tmp_path, workers=1, memory="lots")  # the worker refuses it
    with pytest.raises(RuntimeError, match="a Spark daemon exited") as exc:
        cluster.start(timeout=120)
    assert "worker-0.log" in str(exc.value)  # the logs' tail comes with the message
    assert cluster.pids() == [] and cluster.procs == []
    master = int(
        (tmp_path / "logs" / "master.log").read_text().split("process name: ")[1].split("@")[0]
    )
    assert not _running(master)
