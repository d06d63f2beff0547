"""All-CNN-C on CIFAR-100 (Choi et al. 2019, Table 2: batch 256, 350 epochs; the network of
DeepOBS `cifar100_allcnnc`, Springenberg et al. 2015).

Model: All-CNN-C as in DeepOBS cifar100_allcnnc (3×3 convolutions of 96 and 192 channels,
strided convolutions in place of pooling, dropout 0.2 on the input and 0.5 after each strided
block, global average pooling over 100 class maps); optcompare/models/allcnn.py.
Data: TFDS `cifar100`; the last 5,000 training images held out for validation (45,000 train),
official test split. Per-channel standardization, pad 4 + random crop + horizontal flip
(DeepOBS also jitters brightness, saturation and contrast; not done here).
Regularization: L2 5e-4 on weights (DeepOBS cifar100_allcnnc), dropout as above.
Budget: 350 epochs of 45,000 images at batch 256 = 350 · 175 = 61,250 steps.
Target: validation error 0.45 (chosen here: DeepOBS's tuned baselines reach roughly 57–60%
test accuracy on this problem).

Arg `smoke`: 20 steps of batch 16 on synthetic data (full-size network).
"""
import ml_collections

from configs.workloads import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  smoke = common.check_arg(arg)
  c = common.trial_config("cifar100_cnn", batch_size=256, num_train_steps=61_250,
                          eval_every_steps=1750, dataset="cifar100", target_metric="error",
                          target_value=0.45)
  c.eval_batch_size = 500
  c.dataset.num_validation_examples = 5000
  c.dataset.augment = True
  c.loss.l2 = 5e-4
  c.model = ml_collections.ConfigDict()
  c.model.name = "allcnn_c"
  c.model.dtype = "float32"
  if smoke:
    common.smoke(c, batch_size=16, eval_batch_size=64)
  c.lock()
  return c
