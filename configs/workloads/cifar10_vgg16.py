"""VGG-16 with batch norm on CIFAR-10 (Choi et al. 2019, Table 2: batch 128, 250 epochs; the
network Wilson et al. 2017 used, from the cifar.torch repository).

Model: 13 3×3 convolutions (64-64-M-128-128-M-256×3-M-512×3-M-512×3-M), each followed by batch
norm and ReLU, dropout between convolutions as in cifar.torch, then a 512-unit classifier;
optcompare/models/vgg.py says exactly which variant.
Data: TFDS `cifar10`; last 5,000 training images held out (45,000 train), official test.
Per-channel standardization, pad 4 + random crop + horizontal flip (cifar.torch flips only).
Regularization: L2 5e-4 on weights (cifar.torch's weight decay), dropout in the model.
Budget: 250 epochs of 45,000 images at batch 128 = 250 · 351 = 87,750 steps.
Target: validation error 0.08 (chosen here: Wilson et al. report 7–8% test error for tuned
optimizers on this network).

Arg `smoke`: width ÷ 8, 20 steps of batch 16 on synthetic data.
"""
import ml_collections

from configs.workloads import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  smoke = common.check_arg(arg)
  c = common.trial_config("cifar10_vgg16", batch_size=128, num_train_steps=87_750,
                          eval_every_steps=3510, dataset="cifar10", target_metric="error",
                          target_value=0.08)
  c.eval_batch_size = 500
  c.dataset.num_validation_examples = 5000
  c.dataset.augment = True
  c.loss.l2 = 5e-4
  c.model = ml_collections.ConfigDict()
  c.model.name = "vgg16"
  c.model.width_multiplier = 1.0
  c.model.dtype = "float32"
  if smoke:
    common.smoke(c, batch_size=16, eval_batch_size=64)
    c.model.width_multiplier = 0.125
  c.lock()
  return c
