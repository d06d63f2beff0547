"""Launch recipes as code: the commands of launch/README.md, printed for a given study.

  python -m launch.tpu_vm      --study=PATH[:ARG] --tpu=v4-8 --nodes=N --zone=ZONE --dry_run
  python -m launch.ray_cluster --study=PATH[:ARG] --tpu=v4-8 --nodes=N --zone=ZONE --dry_run

Each prints a bash script of gcloud (and ray) commands and runs nothing: it is read, then
run step by step. launch/README.md's recipe blocks are this output for a stated example, and
tests/test_launch.py checks that they still are. Not part of the installed package (setup.py
ships optcompare and configs): run it from the root of a clone, as the recipes run there.
"""
