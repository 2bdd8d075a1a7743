"""Which threads of a JAX process take CPU time: do XLA_FLAGS or the CPU affinity pin it?

Run as ``python benchmarks/xla_thread_check.py {flags,affinity,none}`` (a fresh process
each: XLA reads its flags once). It times ten jitted 1500 x 1500 products and prints,
per thread that ran, its CPU ticks (``/proc/self/task/*/stat``, Linux) and name. With
``flags`` (``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``) jax 0.10
still ran the product on its ``tf_XLAEigen`` threads beside the main thread (measured:
two Eigen threads with 87 and 21 ticks); with ``affinity`` (every thread held to one CPU
before jax starts, as ``fastnn/bench/measure/one_cpu.py`` does) only the main thread ran.
"""

import os
import sys
import time


def main(mode):
    if mode == "flags":
        os.environ["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
    if mode == "affinity":
        for task in os.listdir("/proc/self/task"):
            os.sched_setaffinity(int(task), {min(os.sched_getaffinity(0))})
    import jax
    import jax.numpy as jnp

    a = jnp.ones((1500, 1500))
    product = jax.jit(lambda a: a @ a)
    product(a).block_until_ready()
    before, wall, cpu = _ticks(), time.perf_counter(), time.process_time()
    for _ in range(10):
        product(a).block_until_ready()
    wall, cpu, after = time.perf_counter() - wall, time.process_time() - cpu, _ticks()
    busy = sorted(((after[t][0] - before.get(t, (0,))[0], after[t][1]) for t in after
                   if after[t][0] > before.get(t, (0,))[0]), reverse=True)
    print(f"{mode}: CPU/wall {cpu / wall:.2f}; per thread (ticks, name): {busy}")


def _ticks():
    out = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{task}/comm") as comm:
                out[task] = (int(fields[11]) + int(fields[12]), comm.read().strip())
        except OSError:
            pass
    return out


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "none")
