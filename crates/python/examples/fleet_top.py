"""Top functions across a fleet of perf.data files, with PySpark.

    spark-submit fleet_top.py 'hosts/*/perf.data' -n 20
    python fleet_top.py 'hosts/*/perf.data' --master 'local[2]'

Each input is converted where it lies, in parallel: the executors read their
share of the files with the stackconv Python package inside
``mapPartitions`` and emit, per file, every function's self (flat) and
cumulative weight, as ``stackconv top`` counts them. Both are sums over
samples, so the fleet's are the sums of the files': Spark adds them up by
function and the driver keeps the top N, in ``stackconv top``'s order (self
weight descending, then name, then cumulative weight). The numbers equal
``stackconv top`` of all the files merged on one machine (the example's test
checks it on 20 copies of a recording).

Read options (``--symbol-dir``, ``--kallsyms``, ``--perf-map-dir``,
``--no-system-paths``, ``--off-cpu``) are the command line's; the files and
the directories they name must be readable where the executors run.
"""

import argparse
import glob
import sys


def function_weights(paths, read_options):
    """For each file of ``paths``: ``(function, (flat, cum))`` of every
    function of its profile, and ``("", (total, total))`` for its total."""
    import stackconv  # on the executor

    for path in paths:
        # Folded while read: memory bounded by the file's distinct stacks.
        profile = stackconv.read(path, fold=True, lines=False, **read_options)
        yield "", (profile.total(), profile.total())
        for row in profile.top(None):
            yield row.name, (row.flat, row.cum)


def pprof_order(row):
    """The order of ``stackconv top`` and ``go tool pprof -top``: |flat|
    descending, then name (byte order), then |cum| descending."""
    name, (flat, cum) = row
    return (-abs(flat), name.encode(), -abs(cum))


def fleet_top(spark, paths, n, read_options, partitions=None):
    """The top ``n`` functions of all ``paths``: ``(total, [(name, flat,
    cum)])``."""
    sc = spark.sparkContext
    files = sc.parallelize(sorted(paths), partitions or sc.defaultParallelism)
    sums = (
        files.mapPartitions(lambda part: function_weights(part, read_options))
        .reduceByKey(lambda a, b: (a[0] + b[0], a[1] + b[1]))
        .cache()
    )
    total = sums.filter(lambda kv: kv[0] == "").map(lambda kv: kv[1][0]).sum()
    rows = sums.filter(lambda kv: kv[0] != "").takeOrdered(n, key=pprof_order)
    return total, [(name, flat, cum) for name, (flat, cum) in rows]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="perf.data files or glob patterns")
    ap.add_argument("-n", type=int, default=20, help="how many functions (default 20)")
    ap.add_argument("--master", help="Spark master when run with python (e.g. local[2])")
    ap.add_argument("--partitions", type=int, help="how many partitions (default: Spark's parallelism)")
    ap.add_argument("--symbol-dir", action="append", default=[], dest="symbol_dirs")
    ap.add_argument("--kallsyms")
    ap.add_argument("--perf-map-dir")
    ap.add_argument("--no-system-paths", action="store_true")
    ap.add_argument("--off-cpu", action="store_true")
    a = ap.parse_args(argv)
    paths = sorted({p for pattern in a.inputs for p in (glob.glob(pattern) or [pattern])})
    read_options = dict(
        symbol_dirs=a.symbol_dirs,
        kallsyms=a.kallsyms,
        perf_map_dir=a.perf_map_dir,
        no_system_paths=a.no_system_paths,
        off_cpu=a.off_cpu,
    )

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("stackconv fleet top")
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    try:
        total, rows = fleet_top(spark, paths, a.n, read_options, a.partitions)
    finally:
        spark.stop()
    shown = sum(flat for _, flat, _ in rows)
    pct = lambda v: 100.0 * v / total if total else 0.0  # noqa: E731
    print(f"{len(paths)} files; top {len(rows)} functions, {shown} of {total} ({pct(shown):.2f}%)")
    print(f"{'flat':>16} {'flat%':>7} {'cum':>16} {'cum%':>7}  function")
    for name, flat, cum in rows:
        print(f"{flat:>16} {pct(flat):6.2f}% {cum:>16} {pct(cum):6.2f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
