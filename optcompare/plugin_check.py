"""`optcompare check-optimizer FILE`: whether a plug-in (optcompare.plugins) is usable.

The checks, in order, each raising BadInputError with one line naming the problem:
  1. the file loads and keeps the contract (HYPERPARAMETERS with learning_rate, make), and its
     name (the file's stem, or --name) is not a built-in's;
  2. make(**HYPERPARAMETERS) returns an optax.GradientTransformation whose state is a pytree
     of arrays (stacked and vmapped when trials are packed; saved by Orbax);
  3. every hyperparameter can be traced: make and its update are traced with that one value
     abstract, so one used in Python control flow (`if beta > 0.5:`, `float(beta)`) is named;
     and two different settings compile the update once;
  4. a few steps on a small quadratic stay finite and are bit-for-bit deterministic;
  5. the smoke trial of a workload (20 steps on synthetic data, through the real trial loop:
     checkpoints, metrics, result) twice: finite and identical.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import tempfile

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import optax

from optcompare import optimizers, plugins, studydir, update
from optcompare.errors import BadInputError
from optcompare.search import spaces

QUADRATIC_STEPS = 10


def check(path: str, name: str | None = None, workload: str = "fashion_mnist_simple_cnn"
          ) -> list[str]:
  """The report's lines for a usable plug-in; BadInputError (one line) for one that is not."""
  name = name or os.path.splitext(os.path.basename(path))[0]
  where = os.path.abspath(path)
  if name in optimizers.REGISTRY:
    raise BadInputError(f"{where}: the name {name!r} clashes with the built-in optimizer; "
                        "rename the file or pass --name")
  plugin = plugins.load(name, plugins.resolve_path(path, None, "FILE"), where=where)
  lines = [f"{name}: {where} (SHA-256 {plugin.sha256[:12]}…)",
           f"  hyperparameters: {', '.join(f'{k}={v:g}' for k, v in plugin.defaults)}"]
  lines.append(_check_state(plugin, where))
  lines.append(_check_traced(plugin, where))
  lines.append(_check_quadratic(plugin, where))
  lines.append(_check_smoke_trial(plugin, workload, where))
  return lines + [f"usable: list {name!r} in a study's optimizers, with "
                  f"optimizer_files = {{{name!r}: {path!r}}} and a search space"]


def _quadratic():
  """params, and the loss 0.5 Σ_i (a_i ⊙ θ_i − b_i)²: per-coordinate curvatures a², so an
  adaptive and a non-adaptive method differ."""
  rng = np.random.default_rng(0)
  params = {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
            "b": jnp.asarray(rng.normal(size=(3,)), jnp.float32)}
  scale = jax.tree.map(lambda p: jnp.asarray(rng.uniform(0.1, 2.0, p.shape), p.dtype), params)
  target = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)

  def loss(p):
    return 0.5 * sum(jnp.sum((a * x - b) ** 2) for a, x, b in zip(
        jax.tree.leaves(scale), jax.tree.leaves(p), jax.tree.leaves(target)))
  return params, loss


def _make(plugin, where: str, **values):
  try:
    tx = plugin.make(**values)
  except jax.errors.ConcretizationTypeError:
    raise
  except Exception as e:  # pylint: disable=broad-except  (the user's code)
    raise BadInputError(f"{where}: make() raised {type(e).__name__}: {_first_line(e)}") from e
  if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
    raise BadInputError(f"{where}: make() returned a {type(tx).__name__}, not an "
                        "optax.GradientTransformation")
  return tx


def _first_line(e: BaseException) -> str:
  text = str(e).strip()
  return text.splitlines()[0] if text else ""


def _check_state(plugin, where: str) -> str:
  params, _ = _quadratic()
  state = _make(plugin, where, **dict(plugin.defaults)).init(params)
  leaves = jax.tree.leaves(state)
  for leaf in leaves:
    if not isinstance(leaf, (jax.Array, np.ndarray)):
      raise BadInputError(f"{where}: the optimizer state holds a {type(leaf).__name__} "
                          f"({leaf!r:.60}), not an array (a state must be a pytree of arrays)")
  return (f"  make() returns a GradientTransformation; its state: {len(leaves)} arrays, "
          f"{sum(int(np.size(x)) for x in leaves)} numbers for {_size(params)} parameters")


def _size(tree) -> int:
  return sum(int(np.size(x)) for x in jax.tree.leaves(tree))


def _check_traced(plugin, where: str) -> str:
  """Each hyperparameter traced alone (names the one that cannot be), then the update
  compiled for two settings (one compilation)."""
  params, loss = _quadratic()
  grads = jax.grad(loss)(params)
  defaults = dict(plugin.defaults)
  for name in defaults:
    def update_with(value, name=name):
      tx = _make(plugin, where, **{**defaults, name: value})
      return tx.update(grads, tx.init(params), params)[0]
    try:
      jax.eval_shape(update_with, jnp.float32(defaults[name]))
    except jax.errors.ConcretizationTypeError as e:
      raise BadInputError(
          f"{where}: hyperparameter {name!r} cannot be traced: make() uses its value in "
          "Python (an `if`, float(), a shape); write it with jnp operations (jnp.where, "
          "lax.cond) so that one compiled program serves every value") from e
  traces = []

  def step(p, state):
    traces.append(1)
    return optimizers.update_fn(plugin)(jax.grad(loss)(p), state, p)

  compiled = jax.jit(step)
  for factor in (1.0, 0.5):
    values = update.traced_values({k: v * factor for k, v in defaults.items()})
    compiled(params, update.init_optimizer(plugin, params, values))
  if len(traces) != 1:
    raise BadInputError(f"{where}: two settings of the hyperparameters compiled the update "
                        f"{len(traces)} times (a value is compiled in, not traced)")
  return f"  traced: {len(defaults)} hyperparameters; two settings, one compilation"


def _run_quadratic(plugin, params, loss):
  state = update.init_optimizer(plugin, params, update.traced_values(dict(plugin.defaults)))
  step_fn = jax.jit(lambda p, s: optimizers.update_fn(plugin)(jax.grad(loss)(p), s, p))
  losses = [float(loss(params))]
  for _ in range(QUADRATIC_STEPS):
    updates, state = step_fn(params, state)
    params = optax.apply_updates(params, updates)
    losses.append(float(loss(params)))
  return np.asarray(losses), jax.device_get(params)


def _check_quadratic(plugin, where: str) -> str:
  params, loss = _quadratic()
  (losses, final), (again, final_again) = (_run_quadratic(plugin, params, loss)
                                           for _ in range(2))
  if not (np.all(np.isfinite(losses)) and all(np.all(np.isfinite(x))
                                              for x in jax.tree.leaves(final))):
    raise BadInputError(f"{where}: not finite within {QUADRATIC_STEPS} steps on a small "
                        f"quadratic at the HYPERPARAMETERS defaults (losses {losses.tolist()})")
  if losses.tobytes() != again.tobytes() or not all(
      np.array_equal(a, b) for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(final_again))):
    raise BadInputError(f"{where}: two runs of {QUADRATIC_STEPS} steps on a small quadratic "
                        "differ (the update is not deterministic)")
  return (f"  quadratic: {QUADRATIC_STEPS} steps finite and deterministic (loss "
          f"{losses[0]:.4g} -> {losses[-1]:.4g})")


def _smoke_config(plugin, workload: str):
  module = importlib.import_module(f"configs.workloads.{workload}")
  base = module.get_config("smoke").to_dict()
  base["optimizer"]["schedule"] = {**base["optimizer"]["schedule"], "name": "constant"}
  return spaces.build_trial_config(base, plugin.name, {}, plugins.record(plugin))


@contextlib.contextmanager
def _quiet():
  """The smoke trials' own log lines (each train and evaluation line) are not the report's:
  warnings and errors only, meanwhile."""
  previous = logging.get_verbosity()
  logging.set_verbosity(logging.WARNING)
  try:
    yield
  finally:
    logging.set_verbosity(previous)


def _check_smoke_trial(plugin, workload: str, where: str) -> str:
  from optcompare import train  # pylint: disable=g-import-not-at-top  (the loop)
  config = _smoke_config(plugin, workload)
  results = []
  with tempfile.TemporaryDirectory() as tmp, _quiet():
    for i in range(2):
      train.train_and_evaluate(config, os.path.join(tmp, str(i)))
      results.append(studydir.read_result(os.path.join(tmp, str(i))))
  first, second = results
  if first.status != studydir.COMPLETED:
    raise BadInputError(f"{where}: the {workload} smoke trial ended {first.status} at the "
                        f"HYPERPARAMETERS defaults ({first.error or 'non-finite loss'})")
  if first.to_json() | {"wall_time_s": 0} != second.to_json() | {"wall_time_s": 0}:
    raise BadInputError(f"{where}: two runs of the {workload} smoke trial differ (the "
                        "update is not deterministic)")
  split, metric = config.target.split, config.target.metric
  return (f"  {workload} smoke trial: {config.num_train_steps} steps, twice: finite and "
          f"identical ({split} {metric} {first.value(split, metric):.4g})")
