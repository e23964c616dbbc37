"""A batch of photos one after another versus N at once with the local executor; per-photo costs for
planning a cluster.

    .venv/bin/python bench/batch.py [--photos 8] [--workers 2] [--cpus-per-job 1] [--size WxH] [--duration 5]

Runs the same photos (the bundled ones, repeated under new names) with the serial executor (in this
process, as `dioramic run` does by default) and with `--executor local`, through the same job
`dioramic run` uses (`dioramic.batch.photo_job`). Prints the wall time, the speed-up, the peak
memory of the whole process tree (sampled), and per photo: CPU-seconds (every thread counted), bytes
written and the job process's peak memory; then what these give on paper for a cluster. Numbers, not
assertions; on a machine shared with other work they are upper bounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from dioramic.batch import PhotoResult, photo_job
from dioramic.config import RunOptions, parse_size
from dioramic.executors import ExecutorSettings, Task, make_executor, run_tasks
from dioramic.executors.base import cpu_count

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def tree_rss(pid: int) -> int:
    """Resident memory of `pid` and every process below it, in bytes."""
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


class PeakMemory:
    """Samples the resident memory of this process and its children every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, tree_rss(os.getpid()))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(name: str, settings: ExecutorSettings, photos: list[Path], out: Path, options: RunOptions) -> dict:
    tasks = [Task(photo_job, (p, out, options, p.stem), name=p.name) for p in photos]
    with PeakMemory() as memory:
        start, cpu = time.perf_counter(), _cpu_seconds()
        with make_executor(name, settings) as executor:
            outcomes = run_tasks(executor, tasks)
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"{name}: {len(failed)} photo(s) failed: {failed[0].error}")
    results: list[PhotoResult] = [o.value for o in outcomes]
    return {"wall": wall, "cpu": cpu, "peak": memory.peak, "results": results}


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (every thread)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--workers", type=int, default=None, help="local executor's workers (default: its own)")
    ap.add_argument("--cpus-per-job", type=int, default=None)
    ap.add_argument("--depth", default="classical")
    ap.add_argument("--size", type=parse_size, default=None, help="video size (default: long side 1280)")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--skip-serial", action="store_true", help="run only the local executor")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the runs this often; keep the fastest")
    args = ap.parse_args()
    options = RunOptions(depth=args.depth, size=args.size, duration=args.duration)

    tmp = Path(tempfile.mkdtemp(prefix="dioramic-bench-batch-"))
    try:
        sources = sorted((REPO / "assets" / "photos").glob("*.jpg"))
        photos = []
        for i in range(args.photos):
            photos.append(tmp / "in" / f"{i:02d}_{sources[i % len(sources)].name}")
            photos[-1].parent.mkdir(exist_ok=True)
            shutil.copyfile(sources[i % len(sources)], photos[-1])
        local = ExecutorSettings(workers=args.workers, cpus_per_job=args.cpus_per_job)
        executor = make_executor("local", local)
        workers, cpus = executor.workers, executor.cpus_per_job  # type: ignore[attr-defined]
        executor.close()
        video = "long side 1280" if args.size is None else "x".join(map(str, args.size))
        print(
            f"{len(photos)} photos (bundled, 600x400), {args.depth} depth, video {video}, "
            f"{args.duration:g} s, on {cpu_count()} cores"
        )
        label = f"--executor local, {workers} at once, {cpus} CPU each"
        plan = {label: ("local", local)}
        if not args.skip_serial:
            plan = {"one after another (serial)": ("serial", ExecutorSettings()), **plan}
        runs: dict[str, dict] = {}
        for _ in range(args.repeat):  # alternated, so that other work on the machine hits both alike
            for name, (executor_name, settings) in plan.items():
                r = run(executor_name, settings, photos, tmp / executor_name, options)
                shutil.rmtree(tmp / executor_name)
                if name not in runs or r["wall"] < runs[name]["wall"]:
                    runs[name] = r

        print("\n| run | wall | photos/min | CPU-s per photo, all included | peak memory, all processes |")
        print("|---|---|---|---|---|")
        for name, r in runs.items():
            rate = 60 * len(photos) / r["wall"]
            cpu = r["cpu"] / len(photos)
            print(f"| {name} | {r['wall']:.1f} s | {rate:.2f} | {cpu:.1f} | {r['peak'] / MB:.0f} MiB |")
        if len(runs) == 2:
            serial, parallel = runs.values()
            print(f"\nspeed-up: {serial['wall'] / parallel['wall']:.2f}x")

        print("\nper photo (median over the batch), measured inside the job:")
        print("| run | wall | CPU-seconds | bytes written | job peak memory |\n|---|---|---|---|---|")
        for name, r in runs.items():
            res = r["results"]
            print(
                f"| {name} | {statistics.median(x.seconds for x in res):.1f} s "
                f"| {statistics.median(x.cpu_seconds for x in res):.1f} "
                f"| {statistics.median(x.bytes_written for x in res) / 1e6:.2f} MB "
                f"| {statistics.median(x.peak_memory for x in res) / MB:.0f} MiB |"
            )
        res = runs[label]["results"]
        cpu_s = statistics.median(x.cpu_seconds for x in res)
        size = statistics.median(x.bytes_written for x in res)
        mem = max(x.peak_memory for x in res)
        print(
            f"\non paper, a cluster of C cores (1 CPU per job, CPU-bound): about 3600 C / {cpu_s:.1f} "
            f"photos an hour; 100,000 photos = {100_000 * cpu_s / 3600:,.0f} core-hours, "
            f"{100_000 * size / 1e9:,.0f} GB written to shared storage "
            f"({size / cpu_s / 1e6:.2f} MB/s per busy core), and up to {mem / MB:.0f} MiB of memory per job"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
