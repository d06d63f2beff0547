"""Fields every trial config declares (DESIGN.md §4), shared by the workload configs."""
import ml_collections
from ml_collections import config_dict

from optcompare import hparams

HPARAM_FIELDS = hparams.OPTIMIZER_HPARAMS  # optimizer.hparams.*: the table's optimizer names


def optimizer_config(name: str = "adam") -> ml_collections.ConfigDict:
  """Every hyperparameter any built-in optimizer takes; unset ones stay None."""
  c = ml_collections.ConfigDict()
  c.name = name
  c.hparams = ml_collections.ConfigDict()
  for field in HPARAM_FIELDS:
    c.hparams[field] = config_dict.placeholder(float)
  c.schedule = ml_collections.ConfigDict()
  c.schedule.name = "linear_decay"
  c.schedule.decay_factor = config_dict.placeholder(float)
  c.schedule.decay_steps = config_dict.placeholder(int)
  c.schedule.decay_steps_fraction = config_dict.placeholder(float)
  c.schedule.warmup_steps = 0
  return c


def adam_defaults(c: ml_collections.ConfigDict, learning_rate: float = 1e-3) -> None:
  """Adam with Kingma & Ba's defaults and a constant learning rate."""
  c.name = "adam"
  c.hparams.update(learning_rate=learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8)
  c.schedule.name = "constant"


def trial_config(workload: str, *, batch_size: int, num_train_steps: int,
                 eval_every_steps: int, dataset: str, target_metric: str,
                 target_value: float) -> ml_collections.ConfigDict:
  """The workload-independent fields; the caller adds `model` and `loss` and locks it."""
  c = ml_collections.ConfigDict()
  c.workload = workload
  c.seed = 0
  c.batch_size = batch_size
  c.eval_batch_size = 1000
  c.num_train_steps = num_train_steps
  c.eval_every_steps = eval_every_steps
  # The test split every this many steps (None: at every evaluation) and always at the end;
  # validation and train_eval are evaluated at every evaluation.
  c.test_every_steps = config_dict.placeholder(int)
  c.checkpoint_every_steps = eval_every_steps
  c.log_every_steps = 100
  # Matmul and convolution precision: float32, tf32 or bfloat16 passes (optcompare.loop).
  c.precision = "float32"
  # Steps per compiled dispatch (a scan); 0: 1 on CPU, else up to the next boundary.
  c.steps_per_dispatch = 0
  c.optimizer = optimizer_config()
  adam_defaults(c.optimizer)
  c.dataset = ml_collections.ConfigDict()
  c.dataset.name = dataset
  c.dataset.data_dir = config_dict.placeholder(str)
  c.dataset.synthetic = False
  c.dataset.num_validation_examples = 10_000
  # train_eval: a fixed subset of the training split evaluated like validation (None: as many
  # as the validation split; 0: none).
  c.dataset.num_train_eval_examples = config_dict.placeholder(int)
  c.dataset.num_synthetic_examples = 2048
  c.dataset.augment = False
  c.loss = ml_collections.ConfigDict()
  c.loss.l2 = 0.0
  c.loss.label_smoothing = 0.0
  c.target = ml_collections.ConfigDict()
  c.target.metric = target_metric
  c.target.split = "validation"
  c.target.value = target_value
  return c


def smoke(c: ml_collections.ConfigDict, *, batch_size: int = 32, eval_batch_size: int = 128,
          num_synthetic_examples: int = 512) -> None:
  """Shrinks a trial to 20 steps on synthetic data, for tests."""
  c.batch_size = batch_size
  c.eval_batch_size = eval_batch_size
  c.num_train_steps = 20
  c.eval_every_steps = 10
  c.checkpoint_every_steps = 10
  c.log_every_steps = 5
  c.dataset.synthetic = True
  c.dataset.num_synthetic_examples = num_synthetic_examples
  c.dataset.num_validation_examples = 128


def check_arg(arg) -> bool:
  """True for 'smoke'; ValueError for anything but None, '' and 'smoke'."""
  if arg not in (None, "", "smoke"):
    raise ValueError(f"config arg must be empty or 'smoke', got {arg!r}")
  return arg == "smoke"
