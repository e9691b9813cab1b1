"""A Spark standalone cluster on 127.0.0.1 for the tests: one master, two workers.

Started from the classes the pyspark package ships (``$SPARK_HOME/bin/spark-class
org.apache.spark.deploy.master.Master`` and ``...worker.Worker``, with
``SPARK_HOME`` the pyspark package folder), so nothing is downloaded. Each
worker offers one core and a little memory; executors run this venv's Python
(``PYSPARK_PYTHON``), so they import the same scrm_lib as the driver, but they
are other processes and see only what a path on disk gives them.

Every daemon runs in its own process group and :meth:`StandaloneCluster.stop`
kills the groups (the executors a worker started included), also after a
failed start; the logs stay in ``log_dir`` for a failed test to show.

Example
-------
>>> with StandaloneCluster(tmp_path) as cluster:  # doctest: +SKIP
...     spark = spark_session(master=cluster.master_url)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

#: JVM settings for the daemons: a small heap and quick start-up (they do little work).
DAEMON_JAVA_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Duser.timezone=UTC"


def spark_home() -> Path:
    """The pyspark package folder: it holds ``bin/spark-class`` and the jars."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandaloneCluster:
    """A master and ``workers`` workers on 127.0.0.1, started by :meth:`start`.

    Parameters
    ----------
    root
        A folder for the logs (``logs/``) and the workers' work folders (``work/``).
    workers, cores, memory
        How many workers, and the cores and memory each offers to executors.
    python
        The Python the executors run (default: this interpreter).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        workers: int = 2,
        cores: int = 1,
        memory: str = "1g",
        python: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.log_dir = self.root / "logs"
        self.workers = workers
        self.cores = cores
        self.memory = memory
        self.python = python or sys.executable
        self.port = 0
        self.ui_port = 0
        self.procs: list[subprocess.Popen] = []  # the daemons this process started
        self.daemon_pids: list[int] = []  # master first, then the workers
        self.startup_seconds = 0.0

    @property
    def master_url(self) -> str:
        """``spark://127.0.0.1:PORT``: what a SparkSession's master is set to."""
        return f"spark://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        home = spark_home()
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(home),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOG_DIR=str(self.log_dir),
            SPARK_DAEMON_MEMORY="256m",
            SPARK_DAEMON_JAVA_OPTS=DAEMON_JAVA_OPTS,
            PYSPARK_PYTHON=self.python,
            PYSPARK_DRIVER_PYTHON=self.python,
            # spark-class reads conf/spark-env.sh only when it exists; point it at nothing
            SPARK_CONF_DIR=str(self.root / "conf"),
        )
        return env

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed by the child's exit
        try:
            proc = subprocess.Popen(
                [str(spark_home() / "bin" / "spark-class"), *args],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills executors too
                cwd=self.root,
            )
        finally:
            log.close()
        self.procs.append(proc)
        self.daemon_pids.append(proc.pid)
        return proc

    def state(self) -> dict[str, Any]:
        """The master's JSON status (``/json/``): workers, their state, running apps."""
        url = f"http://127.0.0.1:{self.ui_port}/json/"
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)

    def alive_workers(self) -> int:
        """How many workers the master has registered and sees alive (0 when it does not answer)."""
        try:
            workers = self.state().get("workers", [])
        except (OSError, ValueError):
            return 0
        return sum(1 for w in workers if w.get("state") == "ALIVE")

    def start(self, timeout: float = 90.0) -> StandaloneCluster:
        """Start the master and the workers; return once every worker is registered.

        Raises
        ------
        RuntimeError
            A daemon died or the workers did not register within ``timeout``
            seconds; the message ends with the tail of the daemons' logs.
            Whatever was started is stopped first.
        """
        started = time.perf_counter()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.root / "conf").mkdir(exist_ok=True)
        self.port, self.ui_port = free_port(), free_port()
        try:
            self._spawn(
                "master",
                "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--webui-port", str(self.ui_port),
            )  # fmt: skip
            # a worker that calls before the master is up retries only after 5-15 s
            deadline = time.monotonic() + timeout
            while self._master_status() != "ALIVE":
                self._check(deadline, timeout, "the master did not start")
                time.sleep(0.1)
            for i in range(self.workers):
                work = self.root / "work" / f"worker-{i}"
                work.mkdir(parents=True, exist_ok=True)
                self._spawn(
                    f"worker-{i}",
                    "org.apache.spark.deploy.worker.Worker",
                    "--host", "127.0.0.1",
                    "--cores", str(self.cores),
                    "--memory", self.memory,
                    "--webui-port", str(free_port()),
                    "--work-dir", str(work),
                    self.master_url,
                )  # fmt: skip
            while self.alive_workers() < self.workers:
                self._check(deadline, timeout, "the workers did not register")
                time.sleep(0.1)
        except BaseException as exc:
            tail = self.log_tail()
            self.stop()
            if isinstance(exc, RuntimeError):
                raise RuntimeError(f"{exc}; logs in {self.log_dir}:\n{tail}") from None
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def _master_status(self) -> str | None:
        try:
            return self.state().get("status")
        except (OSError, ValueError):
            return None

    def _check(self, deadline: float, timeout: float, what: str) -> None:
        dead = [p for p in self.procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a Spark daemon exited ({dead[0].returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout:.0f} s")

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of each daemon's log, for error messages."""
        out = []
        for path in sorted(self.log_dir.glob("*.log")):
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            out.append(f"--- {path.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def pids(self) -> list[int]:
        """The daemons' process ids (their process groups hold the executors)."""
        return list(self.daemon_pids)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every daemon and what it started (TERM, then KILL); safe to call twice.

        Works from any process: one that only attached (:meth:`attach`) kills the
        same process groups, each daemon having started its own."""
        # workers first, so the master does not try to reschedule their executors
        groups = list(reversed(self.daemon_pids))
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        while any(_running(pid) for pid in groups) and time.monotonic() < deadline:
            time.sleep(0.1)
        # the group, not the pid: an executor outlives its worker's TERM otherwise
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        for proc in self.procs:
            proc.wait()
        self.procs.clear()
        self.daemon_pids.clear()

    def to_state(self) -> dict[str, Any]:
        """What another process needs to use and stop this cluster (:meth:`attach`)."""
        return {
            "root": str(self.root),
            "port": self.port,
            "ui_port": self.ui_port,
            "workers": self.workers,
            "cores": self.cores,
            "memory": self.memory,
            "daemon_pids": self.daemon_pids,
            "startup_seconds": self.startup_seconds,
        }

    @classmethod
    def attach(cls, state: dict[str, Any]) -> StandaloneCluster:
        """The cluster another process started and described with :meth:`to_state`."""
        cluster = cls(state["root"], workers=state["workers"], cores=state["cores"])
        cluster.memory = state["memory"]
        cluster.port, cluster.ui_port = state["port"], state["ui_port"]
        cluster.daemon_pids = list(state["daemon_pids"])
        cluster.startup_seconds = state["startup_seconds"]
        return cluster

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _running(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


#: In a shared folder: the cluster's description (:meth:`StandaloneCluster.to_state`).
STATE_FILE = "cluster.json"


def shared_cluster(root: str | Path, **options: Any) -> StandaloneCluster:
    """The cluster described in ``root/cluster.json`` when it still answers; else a new one,
    started by this process and described there for the others.

    Test processes (pytest-xdist workers) that ask at once take a lock on
    ``root/lock``, so they share one cluster; :func:`stop_shared` stops it.
    """
    import fcntl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = root / STATE_FILE
        if state.exists():
            cluster = StandaloneCluster.attach(json.loads(state.read_text(encoding="utf-8")))
            if cluster.alive_workers() >= cluster.workers:
                return cluster
            cluster.stop()  # a cluster that lost a worker: start afresh
        cluster = StandaloneCluster(root, **options).start()
        state.write_text(json.dumps(cluster.to_state()), encoding="utf-8")
        return cluster


def stop_shared(root: str | Path) -> StandaloneCluster | None:
    """Stop the cluster :func:`shared_cluster` started under ``root``, if any; return it."""
    state = Path(root) / STATE_FILE
    if not state.exists():
        return None
    cluster = StandaloneCluster.attach(json.loads(state.read_text(encoding="utf-8")))
    cluster.stop()
    state.unlink()
    return cluster


def task_processes(session: Any, tasks: int = 8) -> set[tuple[int, int, int]]:
    """Who ran ``tasks`` small tasks: (Python worker pid, the JVM above it, that JVM's
    process group) each. On a cluster the JVM is an executor, in its worker's group."""

    def where(_: Any) -> list[tuple[int, int, int]]:
        time.sleep(0.2)  # long enough that every free executor is offered a task
        pid = jvm = os.getpid()
        while jvm > 1:  # up the parents (pyspark's daemon, ...) to the executor's JVM
            stat = Path(f"/proc/{jvm}/stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")] == "java":
                break
            jvm = int(stat[stat.rindex(")") + 2 :].split()[1])
        return [(pid, jvm, os.getpgid(jvm))]

    rdd = session.sparkContext.parallelize(range(tasks), tasks)
    return set(rdd.mapPartitions(where).collect())


def executor_count(session: Any) -> int:
    """Executors registered with the driver (the driver's own block manager not counted)."""
    return session.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1


def wait_for_executors(session: Any, count: int, timeout: float = 60.0) -> None:
    """Return once ``count`` executors have registered; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while executor_count(session) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{executor_count(session)} of {count} executors within {timeout} s")
        time.sleep(0.1)
