from eval.bench.table import main

main()
