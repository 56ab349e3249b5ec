"""``python -m nbcohort.cohorts.cli``: the nbcohort command without the console script."""

from nbcohort.cohorts.cli.main import main

main()
