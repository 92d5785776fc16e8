"""gunicorn config for profiling runs: a pyinstrument profiler runs in each sync worker for its
whole life and writes a text report when the worker exits (rendering takes a while: the
benchmark gives profiled workers a long graceful timeout)."""

import os

_profiler = None


def post_fork(server, worker):
    global _profiler
    from pyinstrument import Profiler

    _profiler = Profiler(interval=0.001)
    _profiler.start()


def worker_exit(server, worker):
    if _profiler is None:
        return
    _profiler.stop()
    text = _profiler.output_text(unicode=False, color=False, show_all=False)
    directory = os.environ["FIELDSYNC_BENCH_PROFILE_DIR"]
    with open(os.path.join(directory, f"worker-{os.getpid()}.txt"), "w") as out:
        out.write(text)
