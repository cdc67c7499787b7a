"""Time cold `spark-submit jobs/ingest.py` runs of the demo's first wave, variant against variant.

    .venv/bin/python scripts/cold_start.py [--runs 3] [--variant NAME ...] [--strace]

Each run builds a fresh lake and landing folder (the crash harness's data: the demo's wave 1,
100 members per client), then runs the ingest job the way the crash harness does
(``spark-submit --master local[2] jobs/ingest.py`` with the test JVM flags), so every run pays
the JVM start, class loading, JIT and Python worker start-up. Variants run interleaved
(A B C A B C ...) so a machine that gets busier or quieter weighs on all of them alike;
the report gives each variant's median wall and CPU seconds (the whole process tree: JVM,
driver, daemon and workers) and its wall ratio to the first.

``--strace`` also counts the processes each run starts (``execve`` by program name), which
shows Hadoop's forks (``chmod``, ``readlink``) and the Python workers.

A variant's ``--conf`` adds options; it cannot undo ``lakehouse.spark.BASE_CONF`` (the job's
session builder sets those last), so ``base`` is always the current defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The JVM flags tests/conftest.py had before this script's findings (C1 only, serial GC):
# variants add to them; pass your own JAVA_TOOL_OPTIONS to start from another base.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
_EXECVE = re.compile(r'execve\("([^"]+)"')


@dataclass(frozen=True)
class Variant:
    """Extra ``--conf`` options, JVM flags and environment of one way to run the job."""

    conf: dict[str, str] = field(default_factory=dict)
    java: str = ""
    env: dict[str, str] = field(default_factory=dict)


VARIANTS: dict[str, Variant] = {
    "base": Variant(),
    "no_codegen": Variant(conf={"spark.sql.codegen.factoryMode": "NO_CODEGEN"}),
    "no_aqe": Variant(conf={"spark.sql.adaptive.enabled": "false"}),
    "fs_checkpoints": Variant(
        conf={
            "spark.sql.streaming.checkpointFileManagerClass": (
                "org.apache.spark.sql.execution.streaming.checkpointing."
                "FileSystemBasedCheckpointFileManager"
            )
        }
    ),
    "no_worker_faulthandler": Variant(conf={"spark.python.worker.faulthandler.enabled": "false"}),
    "freeze_daemon": Variant(conf={"spark.python.daemon.module": "lakehouse.spark_daemon"}),
    "freeze_no_codegen": Variant(
        conf={
            "spark.python.daemon.module": "lakehouse.spark_daemon",
            "spark.sql.codegen.factoryMode": "NO_CODEGEN",
        }
    ),
    "xshare_off": Variant(java="-Xshare:off"),
    "ci1": Variant(java="-XX:CICompilerCount=1"),
    "heap_512m": Variant(java="-Xms512m"),
    "xss": Variant(java="-Xss512k"),
    "no_jit": Variant(java="-Xint"),
}


@dataclass
class Run:
    variant: str
    wall_s: float
    cpu_s: float
    returncode: int
    cpu_by_role: dict[str, float]
    processes: Counter[str]


def _role(pid: int, cmdlines: dict[int, str], parents: dict[int, int]) -> str:
    """What a process of the job's tree is: the JVM, the Python driver, PySpark's daemon, a
    Python worker (a fork of the daemon, same command line) or something Hadoop forked."""
    command = cmdlines.get(pid, "")
    if command.startswith("java") or "/java" in command.split(" ", 1)[0]:
        return "jvm"
    if "jobs/ingest.py" in command:
        return "driver"
    if "daemon" in command:
        parent = cmdlines.get(parents.get(pid, -1), "")
        return "worker" if parent == command else "daemon"
    return "other"


def _tree_cpu(session: int, done: threading.Event, result: list[Counter[str]]) -> None:
    """CPU seconds of every process in ``session`` (the job's JVM, driver, daemon, workers),
    sampled from /proc, by role: PySpark's daemon ignores SIGCHLD, so its workers' CPU never
    reaches ``getrusage``. Processes shorter than a sample (Hadoop's ``chmod`` forks) are
    missed."""
    tick = os.sysconf("SC_CLK_TCK")
    last: dict[int, float] = {}
    cmdlines: dict[int, str] = {}
    parents: dict[int, int] = {}
    while not done.wait(0.2):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                raw = (entry / "cmdline").read_bytes()  # re-read: spark-submit execs java
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) == session:  # fields[3]: session id
                last[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
                if raw:
                    cmdlines[int(entry.name)] = raw.replace(b"\0", b" ").decode(errors="replace")
                parents[int(entry.name)] = int(fields[1])
    roles: Counter[str] = Counter()
    for pid, seconds in last.items():
        roles[_role(pid, cmdlines, parents)] += seconds
    result.append(roles)


def _write_landing(landing: Path) -> None:
    sys.path.insert(0, str(REPO))
    from lakehouse.config import load_clients
    from lakehouse.demo import build_demo

    build_demo(load_clients(REPO / "clients"), members_per_client=100).write(landing, waves=[1])


def _environment(root: Path, variant: Variant) -> dict[str, str]:
    import pyspark

    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        SPARK_HOME=str(Path(pyspark.__file__).parent),
        PYSPARK_PYTHON=sys.executable,
        LAKEHOUSE_LAKE_ROOT=str(root / "lake"),
        LAKEHOUSE_LANDING_DIR=str(root / "landing"),
        # Fresh keys per run: every run is a new lake.
        LAKEHOUSE_TOKEN_KEY=secrets.token_hex(32),
        LAKEHOUSE_ENCRYPT_KEY=secrets.token_hex(32),
        LAKEHOUSE_SIV_KEY=secrets.token_hex(32),
        JAVA_TOOL_OPTIONS=" ".join(
            filter(None, [os.environ.get("JAVA_TOOL_OPTIONS", TEST_JVM_OPTIONS), variant.java])
        ),
    )
    env.update(variant.env)
    return env


def run_once(name: str, variant: Variant, *, trace: bool, logs: Path | None = None) -> Run:
    root = Path(tempfile.mkdtemp(prefix=f"cold-{name}-"))
    try:
        _write_landing(root / "landing")
        command = ["spark-submit", "--master", "local[2]"]
        for key, value in variant.conf.items():
            command += ["--conf", f"{key}={value}"]
        command.append("jobs/ingest.py")
        log = root / "strace.log"
        if trace:
            command = ["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(log), *command]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=_environment(root, variant),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        done, cpu_result = threading.Event(), []
        sampler = threading.Thread(target=_tree_cpu, args=(process.pid, done, cpu_result))
        sampler.start()
        stdout, stderr = process.communicate()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        roles = cpu_result[0]
        cpu = sum(roles.values())
        result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
            (logs / f"{name}-{int(time.time())}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            sys.stderr.write(result.stdout[-2000:] + result.stderr[-4000:] + "\n")
        processes: Counter[str] = Counter()
        if trace:
            for line in log.read_text(errors="replace").splitlines():
                match = _EXECVE.search(line)
                if match and "ENOENT" not in line:
                    processes[match.group(1).rsplit("/", 1)[-1]] += 1
        by_role = {k: round(v, 1) for k, v in sorted(roles.items())}
        return Run(name, wall, cpu, result.returncode, by_role, processes)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument(
        "--variant",
        action="append",
        choices=sorted(VARIANTS),
        help="variants to compare, the first is the reference (default: base)",
    )
    parser.add_argument("--strace", action="store_true", help="count execve per program")
    parser.add_argument("--json", type=Path, help="also write the runs here")
    parser.add_argument("--logs", type=Path, help="keep each run's output in this folder")
    args = parser.parse_args(argv)
    names = args.variant or ["base"]
    runs: list[Run] = []
    for round_ in range(args.runs):
        for name in names:
            run = run_once(name, VARIANTS[name], trace=args.strace, logs=args.logs)
            runs.append(run)
            _say(
                f"round {round_ + 1} {name:24} wall {run.wall_s:6.1f} s  cpu {run.cpu_s:6.1f} s"
                f"  rc {run.returncode}  {run.cpu_by_role}"
            )
            if args.strace:
                _say(f"   processes: {dict(run.processes.most_common(8))}")
    reference = statistics.median(r.wall_s for r in runs if r.variant == names[0])
    _say(f"\n{'variant':24} {'median wall':>11} {'median cpu':>10} {'ratio':>6}  runs")
    for name in names:
        mine = [r for r in runs if r.variant == name]
        wall = statistics.median(r.wall_s for r in mine)
        cpu = statistics.median(r.cpu_s for r in mine)
        walls = ", ".join(f"{r.wall_s:.1f}" for r in mine)
        _say(f"{name:24} {wall:11.1f} {cpu:10.1f} {wall / reference:6.2f}  [{walls}]")
    if args.json:
        args.json.write_text(
            json.dumps([{**r.__dict__, "processes": dict(r.processes)} for r in runs], indent=2)
        )
    return 1 if any(r.returncode for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
