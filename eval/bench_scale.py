"""`python -m eval.bench_scale`, as issue #29 names it: the scale benchmark, eval.bench.scale."""

from eval.bench.scale import main

if __name__ == "__main__":
    main()
