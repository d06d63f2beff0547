"""One trial's state and update rule, as pure functions (no files, no loop).

The NNX model is split once into a static graph definition and its state; `nnx.merge`
rebuilds it inside the compiled step. Every random key is `fold_in(rng, step)`, so a resumed
trial recomputes exactly what an uninterrupted one computes. Every hyperparameter value,
schedule settings included, lives in the optimizer state (traced): one compiled program per
(workload, optimizer name, schedule kind), whatever values the trials draw.

`step` and `eval_sums` are un-jitted: optcompare.loop compiles them inside its scan over
steps, for one trial or vmapped over a pack of trials (one update rule for both).

Train-line statistics (STEP_STATS), from the step that produced the parameters of step s:
`learning_rate` (η_{s−1}, the value that update applied, read from the optimizer state,
schedule included), `grad_norm`, `update_norm` and `param_norm` (global L2 norms of the
gradient, of the update added to the parameters, and of the parameters θ_s after it).
"""
from __future__ import annotations

import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from optcompare import optimizers
from optcompare.models import conv


@flax.struct.dataclass
class TrainState:
  step: jax.Array            # number of completed updates
  params: nnx.State          # nnx.Param leaves
  model_state: nnx.State     # everything else the model carries (batch-norm statistics)
  opt_state: optax.OptState  # includes the optimizer's hyperparameters (traced)
  rng: jax.Array             # base key; step t uses fold_in(rng, t)
  train_sums: dict           # metric sums since the last train log line


# What a step returns besides the loss; a train line carries its interval's last step's.
STEP_STATS = ("learning_rate", "grad_norm", "update_norm", "param_norm")


@functools.partial(jax.jit, static_argnums=0)
def init_model(workload, seed) -> tuple[nnx.State, nnx.State]:
  """(params, model_state) of the workload's model initialised from `seed` (traced)."""
  model = workload.build_model(jax.random.key(seed))  # nnx.Rngs(int) makes this very key
  model.train()
  _, params, model_state = nnx.split(model, nnx.Param, ...)
  return params, model_state


@functools.partial(jax.jit, static_argnums=0)
def init_optimizer(optimizer: str, params, hparams: dict):
  """The optimizer state of `create(optimizer, **hparams)` (values traced) for `params`."""
  return optimizers.create(optimizer, **hparams).init(params)


def zero_sums(workload) -> dict:
  return {k: jnp.zeros((), jnp.float32) for k in (*workload.metric_names, "count")}


def traced_values(hparams: dict) -> dict:
  """Every number as a float32 array: equal avals (one trace) whatever the values' types."""
  return jax.tree.map(lambda x: np.asarray(x, np.float32), hparams)


def init_state(workload, optimizer: str, seed: int, hparams: dict) -> TrainState:
  """The step-0 state of a trial. Model and optimizer are initialised by two programs, so a
  worker compiles the model's initialisation once, whatever the optimizers."""
  params, model_state = init_model(workload, seed)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, model_state=model_state,
                    opt_state=init_optimizer(optimizer, params, traced_values(hparams)),
                    rng=jax.random.PRNGKey(seed), train_sums=zero_sums(workload))


@functools.lru_cache(maxsize=None)
def graph_defs(workload, formulation: str = "direct") -> tuple[Any, Any]:
  """(train, eval) graph definitions of the workload's model, its convolutions computed by
  `formulation` (models.conv.FORMULATIONS), from an abstract model."""
  model = conv.use(nnx.eval_shape(lambda: workload.build_model(jax.random.key(0))),
                   formulation)
  model.eval()
  eval_graphdef = nnx.split(model, nnx.Param, ...)[0]
  model.train()
  return nnx.split(model, nnx.Param, ...)[0], eval_graphdef


def global_norm(tree) -> jax.Array:
  """The L2 norm of all leaves together, accumulated in at least float32."""
  return optax.tree.norm(jax.tree.map(
      lambda x: x.astype(jnp.promote_types(x.dtype, jnp.float32)), tree))


def step(graphdef, workload, optimizer: str, state: TrainState, batch):
  """One update: (state, batch) -> (state, out), out = {'loss': the objective on this batch,
  **STEP_STATS}."""
  step_key = jax.random.fold_in(state.rng, state.step)
  batch = workload.preprocess(batch, jax.random.fold_in(step_key, 0))  # data augmentation
  dropout_key = jax.random.fold_in(step_key, 1)

  def loss_fn(params, model_state):
    # Both are arguments (not closures) so that NNX sees them at this trace level and lets
    # batch norm update its statistics.
    model = nnx.merge(graphdef, params, model_state, copy=True)
    # Rngs are made inside the differentiated function: NNX forbids mutating an RNG
    # counter created at an outer trace level.
    logits = model(batch["inputs"], rngs=nnx.Rngs(dropout=dropout_key))
    _, _, model_state = nnx.split(model, nnx.Param, ...)
    return workload.loss(params, logits, batch), (logits, model_state)

  (loss, (logits, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params, state.model_state)
  updates, opt_state = optimizers.update_fn(optimizer)(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  sums = workload.metric_sums(jax.lax.stop_gradient(logits), batch)
  train_sums = jax.tree.map(jnp.add, state.train_sums, sums)
  new_state = state.replace(step=state.step + 1, params=params, model_state=model_state,
                            opt_state=opt_state, train_sums=train_sums)
  return new_state, {"loss": loss, "learning_rate": opt_state.hyperparams["learning_rate"],
                     "grad_norm": global_norm(grads), "update_norm": global_norm(updates),
                     "param_norm": global_norm(params)}


def eval_sums(graphdef, workload, optimizer, state: TrainState, batch) -> dict:
  """Metric sums of one (padded, masked) evaluation batch, the model evaluated at
  `optimizers.eval_params`: the trial's parameters, or for schedule-free AdamW its averaged
  iterate (the batch-norm statistics are those gathered at the parameters it trains)."""
  batch = workload.preprocess(batch, None)
  params = optimizers.eval_params(optimizer, state.params, state.opt_state)
  logits = nnx.merge(graphdef, params, state.model_state)(batch["inputs"])
  return workload.metric_sums(logits, batch)
