"""optcompare.schedules: formulas, warmup, argument checks, and their use through from_config."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs.workloads import fashion_mnist_simple_cnn
from optcompare import errors
from optcompare import optimizers
from optcompare import schedules

STEPS = [0, 1, 7, 50, 99, 100, 101, 150, 999]


def _values(schedule, steps=STEPS):
  return np.array([float(schedule(t)) for t in steps])


def _linear(base, lam, T, t):
  return base * (1 - (1 - lam) * min(t, T) / T)


def _cosine(base, lam, T, t):
  return base * (lam + (1 - lam) * 0.5 * (1 + math.cos(math.pi * min(t, T) / T)))


def test_constant():
  s = schedules.create("constant", base=0.3, num_train_steps=1000)
  np.testing.assert_allclose(_values(s), 0.3, rtol=1e-7)


def test_linear_decay_absolute_steps():
  s = schedules.create("linear_decay", base=0.5, num_train_steps=1000, decay_factor=0.01,
                       decay_steps=100)
  want = [_linear(0.5, 0.01, 100, t) for t in STEPS]
  np.testing.assert_allclose(_values(s), want, rtol=1e-6)
  assert float(s(0)) == pytest.approx(0.5) and float(s(100)) == pytest.approx(0.005)


@pytest.mark.parametrize("fraction,n,T", [(0.5, 200, 100), (1.0, 150, 150), (0.333, 10, 3)])
def test_linear_decay_fraction_of_the_budget(fraction, n, T):
  s = schedules.create("linear_decay", base=1.0, num_train_steps=n, decay_factor=0.1,
                       decay_steps_fraction=fraction)
  assert s.decay_steps == T
  np.testing.assert_allclose(_values(s), [_linear(1.0, 0.1, T, t) for t in STEPS], rtol=1e-6)


def test_cosine():
  s = schedules.create("cosine", base=2.0, num_train_steps=1000, decay_factor=0.1,
                       decay_steps=100)
  np.testing.assert_allclose(_values(s), [_cosine(2.0, 0.1, 100, t) for t in STEPS],
                             rtol=1e-6, atol=1e-7)
  s = schedules.create("cosine", base=2.0, num_train_steps=100)  # λ = 0, T = the budget
  np.testing.assert_allclose(_values(s), [_cosine(2.0, 0.0, 100, t) for t in STEPS],
                             rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind,kw,decayed", [
    ("constant", {}, lambda t: 0.4),
    ("linear_decay", dict(decay_factor=0.1, decay_steps=50), lambda t: _linear(0.4, 0.1, 50, t)),
    # with warmup, the fraction is of the steps after it: T = round(0.5 · (200 − 20)) = 90
    ("linear_decay", dict(decay_factor=0.1, decay_steps_fraction=0.5),
     lambda t: _linear(0.4, 0.1, 90, t)),
    ("cosine", dict(decay_factor=0.2), lambda t: _cosine(0.4, 0.2, 180, t)),
])
def test_warmup_ramps_then_shifts_the_schedule(kind, kw, decayed):
  s = schedules.create(kind, base=0.4, num_train_steps=200, warmup_steps=20, **kw)
  steps = [0, 1, 10, 19, 20, 21, 50, 110, 199, 300]
  want = [0.4 * t / 20 if t < 20 else decayed(t - 20) for t in steps]
  np.testing.assert_allclose(_values(s, steps), want, rtol=1e-6, atol=1e-7)
  # continuous at the end of the warmup
  assert float(s(20)) == pytest.approx(0.4) and float(s(19)) == pytest.approx(0.38)


def test_no_warmup_by_default_and_first_step_uses_base():
  for kind, kw in [("constant", {}), ("linear_decay", dict(decay_factor=0.5, decay_steps=10)),
                   ("cosine", {})]:
    s = schedules.create(kind, base=0.1, num_train_steps=10, **kw)
    assert s.warmup_steps == 0 and float(s(0)) == pytest.approx(0.1)


def test_schedule_settings_are_traced():
  """Two settings of one kind share a compiled evaluation; a batch of them vmaps."""
  traces = []

  @jax.jit
  def evaluate(schedule, t):
    traces.append(1)
    return schedule(t)

  kw = dict(num_train_steps=1000, decay_steps=100)
  a = schedules.create("linear_decay", base=0.1, decay_factor=0.5, **kw)
  b = schedules.create("linear_decay", base=0.7, decay_factor=0.1, warmup_steps=3, **kw)
  for s in (a, b):
    assert float(evaluate(s, 40)) == pytest.approx(float(s(40)), rel=1e-6)
  assert len(traces) == 1
  batch = jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x, jnp.float32) for x in xs]), a, b)
  np.testing.assert_allclose(jax.vmap(lambda s: s(40))(batch), [a(40), b(40)], rtol=1e-6)


def test_is_an_optax_schedule():
  s = schedules.create("linear_decay", base=1.0, num_train_steps=4, decay_factor=0.5,
                       decay_steps=2)
  opt, p = optax.sgd(s), jnp.zeros(())
  state, moves = opt.init(p), []
  for _ in range(4):
    u, state = opt.update(jnp.ones(()), state)
    moves.append(float(-u))
  assert moves == pytest.approx([1.0, 0.75, 0.5, 0.5])


BAD = [  # (name, kwargs, the argument the message must name)
    ("exponential", {}, "name"),
    ("constant", dict(decay_factor=0.5), "decay_factor"),
    ("linear_decay", dict(decay_factor=0.1, decay_rate=2), "decay_rate"),
    ("linear_decay", dict(decay_steps=10), "decay_factor"),  # required for linear_decay
    ("linear_decay", dict(decay_factor=0.1), "decay_steps"),  # neither T nor a fraction
    ("linear_decay", dict(decay_factor=0.1, decay_steps=10, decay_steps_fraction=0.5),
     "decay_steps"),  # both
    ("cosine", dict(decay_steps=10, decay_steps_fraction=0.5), "decay_steps"),
    ("linear_decay", dict(decay_factor=1.5, decay_steps=10), "decay_factor"),
    ("linear_decay", dict(decay_factor=-0.1, decay_steps=10), "decay_factor"),
    ("linear_decay", dict(decay_factor=0.1, decay_steps=0), "decay_steps"),
    ("linear_decay", dict(decay_factor=0.1, decay_steps=10.5), "decay_steps"),
    ("linear_decay", dict(decay_factor=0.1, decay_steps_fraction=0.0), "decay_steps_fraction"),
    ("linear_decay", dict(decay_factor=0.1, decay_steps_fraction=1.5), "decay_steps_fraction"),
    ("linear_decay", dict(decay_factor=0.1, decay_steps_fraction=0.004), "decay_steps_fraction"),
    ("constant", dict(warmup_steps=-1), "warmup_steps"),
    ("constant", dict(warmup_steps=100), "warmup_steps"),  # not below num_train_steps
    ("constant", dict(base=-0.1), "base"),
    ("constant", dict(base=float("nan")), "base"),
    ("constant", dict(base="0.1"), "base"),
    ("constant", dict(num_train_steps=0), "num_train_steps"),
]


@pytest.mark.parametrize("name,kw,field", BAD, ids=[f"{b[0]}-{b[2]}-{i}" for i, b in
                                                    enumerate(BAD)])
def test_bad_arguments(name, kw, field):
  kw = dict(dict(base=0.1, num_train_steps=100), **kw)
  with pytest.raises(ValueError, match=field) as e:
    schedules.create(name, **kw)
  assert isinstance(e.value, schedules.FieldError) and e.value.field == field


def _config(schedule, **hparams):
  cfg = fashion_mnist_simple_cnn.get_config()
  for k, v in hparams.items():
    cfg.optimizer.hparams[k] = v
  for k, v in schedule.items():
    cfg.optimizer.schedule[k] = v
  return cfg


@pytest.mark.parametrize("schedule,want", [
    (dict(name="constant"), lambda t: 1e-3),
    (dict(name="constant", warmup_steps=4), lambda t: 1e-3 * min(t / 4, 1)),
    (dict(name="linear_decay", decay_factor=0.1, decay_steps=6),
     lambda t: _linear(1e-3, 0.1, 6, t)),
    (dict(name="linear_decay", decay_factor=0.1, decay_steps_fraction=0.5),
     lambda t: _linear(1e-3, 0.1, 5, t)),  # of num_train_steps = 10
    (dict(name="cosine", decay_factor=0.0, warmup_steps=2),
     lambda t: 1e-3 * t / 2 if t < 2 else _cosine(1e-3, 0.0, 8, t - 2)),
])
def test_from_config_schedules(schedule, want):
  cfg = _config(schedule)
  opt = optimizers.from_config(cfg.optimizer, num_train_steps=10)
  params = {"w": jnp.ones((2, 3))}
  state, used = opt.init(params), []
  for _ in range(10):
    _, state = opt.update(params, state, params)
    used.append(float(state.hyperparams["learning_rate"]))
  np.testing.assert_allclose(used, [want(t) for t in range(10)], rtol=1e-6, atol=1e-12)


def test_from_config_uses_num_train_steps_of_the_trial():
  cfg = fashion_mnist_simple_cnn.get_config("smoke")
  cfg.optimizer.schedule.update(dict(name="linear_decay", decay_factor=0.0,
                                     decay_steps_fraction=1.0))
  opt = optimizers.from_config(cfg.optimizer, cfg.num_train_steps)
  state = opt.init({"w": jnp.ones(3)})
  assert float(state.schedules["learning_rate"].decay_steps) == cfg.num_train_steps == 20


def test_from_config_rejects_a_fraction_rounding_to_no_steps():
  cfg = _config(dict(name="linear_decay", decay_factor=0.1, decay_steps_fraction=0.01))
  with pytest.raises(errors.BadInputError, match=r"^optimizer\.schedule\.decay_steps_fraction: "):
    optimizers.from_config(cfg.optimizer, num_train_steps=10)
