"""ResNet-32 on CIFAR-10 (Choi et al. 2019, Table 2: batch 256, 50k steps).

Model: ResNet-32 v1 of He et al. 2016, Sec. 4.2 (3 stages × 5 basic blocks, 16/32/64
filters, batch norm with momentum 0.9, option-A shortcuts, 464,154 parameters);
optcompare/models/resnet_cifar.py.
Data: TFDS `cifar10`; the last 5,000 training images are held out for validation, the model
trains on 45,000; test is the official 10,000. Per-channel standardization, then zero-pad 4 +
random 32×32 crop + horizontal flip (He et al. 2016).
Regularization: L2 1e-4 on weights (He et al. 2016's weight decay; Choi et al. tune the
optimizer, not the regularizer). No label smoothing, no dropout.
Target: validation error 0.09 (chosen here: He et al. report 7.51% test error for ResNet-32,
so a tuned trial passes 9% within the budget).

Arg `smoke`: a one-block-per-stage ResNet (ResNet-8), 20 steps, synthetic data.
"""
import ml_collections

from configs.workloads import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  smoke = common.check_arg(arg)
  c = common.trial_config("cifar10_resnet32", batch_size=256, num_train_steps=50_000,
                          eval_every_steps=2000, dataset="cifar10", target_metric="error",
                          target_value=0.09)
  c.eval_batch_size = 500
  c.dataset.num_validation_examples = 5000
  c.dataset.augment = True
  c.loss.l2 = 1e-4
  c.model = ml_collections.ConfigDict()
  c.model.name = "resnet_cifar"
  c.model.num_blocks = 5
  c.model.shortcut = "A"
  c.model.dtype = "float32"
  if smoke:
    common.smoke(c, batch_size=16, eval_batch_size=64)
    c.model.num_blocks = 1
  c.lock()
  return c
