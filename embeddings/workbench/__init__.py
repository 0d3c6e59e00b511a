"""Benchmarks and evaluations for the people who build and tune Reclio: `bench_*` and
`eval_neighbours`. Kept in an app of its own so `manage.py help` shows the product's commands
apart from them."""
