# Python cachelib's FileSystemCache on the workload of bench/filesystem_bench.ts
# (400 keys, a 5-field record, threshold 500), for the ratios in docs/benchmarks.md.
#   python3 -m venv /tmp/venv && /tmp/venv/bin/pip install cachelib
#   /tmp/venv/bin/python bench/filesystem_cachelib.py
import shutil, tempfile, time
import cachelib
from cachelib import FileSystemCache

record = {"id": 7, "name": "Ada Lovelace", "email": "ada@example.com", "admin": False, "score": 97.5}
keys = ["user:%d" % i for i in range(400)]


def rate(fn, n):
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for i in range(n):
            fn(i)
        best = max(best, n / (time.perf_counter() - t))
    return best


d = tempfile.mkdtemp()
full_dir = tempfile.mkdtemp()
try:
    cache = FileSystemCache(d, threshold=500)
    for k in keys:
        cache.set(k, record)
    full = FileSystemCache(full_dir, threshold=500)
    for i in range(500):
        full.set("seed:%d" % i, record)
    print("cachelib", cachelib.__version__)
    print("get hit   %8.0f /s" % rate(lambda i: cache.get(keys[i % 400]), 20000))
    print("get miss  %8.0f /s" % rate(lambda i: cache.get("fresh:%d" % i), 20000))
    print("set       %8.0f /s" % rate(lambda i: cache.set(keys[i % 400], record), 2000))
    print("set full  %8.0f /s" % rate(lambda i: full.set("fresh:%d:%d" % (time.perf_counter_ns(), i), record), 1000))
finally:
    shutil.rmtree(d)
    shutil.rmtree(full_dir)
