from mhin_aggregator.main import main

main()
