"""Search spaces (spaces.py) and quasi-random points (quasirandom.py) for studies."""
from optcompare.search.quasirandom import halton, stable_seed
from optcompare.search.spaces import SearchSpace, build_trial_config
