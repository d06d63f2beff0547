"""ResNet-50 on ImageNet (Choi et al. 2019, Table 2).

Budget (paper Table 2): batch 1024, 150k steps (~125 epochs of the 1,231,167 training images).
Model: ResNet-50 v1.5 (He et al. 2016, Table 1, with the stride on the 3x3 convolution as in
the TF official models / MLPerf / torchvision; optcompare/models/resnet_imagenet.py), batch
norm momentum 0.9, no zero-initialized residual scales.
Regularization: L2 1e-4 on weights (coefficient/2 * sum w^2, so gradient 1e-4 * w: the weight
decay of He et al. 2016 and Goyal et al. 2017; biases and batch-norm parameters excluded);
label smoothing 0.1 (the MLPerf ResNet-50 v1.5 reference and TF official models); no dropout.
These could not be checked against the paper's appendix offline; study configs may tune them.
Data (optcompare/data/imagenet.py): TFDS imagenet2012 read by random access; train-time
RandomResizedCrop (area 8-100%, aspect 3/4-4/3) to 224 + random left-right flip, made on the
host as a pure function of (seed, step, image); eval: central 224/256 crop resized to 224;
per-channel standardization by the ImageNet mean and standard deviation (torchvision recipe).
Validation: the last 50,000 images of TFDS `train`, held out; test: the official 50,000-image
ILSVRC 2012 validation set.
Target: validation error 0.25 (chosen here, not from the paper: the MLPerf Training v0.5
quality target, 74.9% top-1, rounded).
Precision: `model.dtype` "float32" (default) or "bfloat16" (bf16 compute, f32 parameters,
batch statistics and optimizer state). The paper does not state mixed precision; float32 is
the default.

Arg `smoke`: 20 steps of batch 8 at 32x32 on synthetic images of random sizes (the same
crop/resize code, no TFDS), a one-block width-8 ResNet, for tests.
"""
import ml_collections

from configs.workloads import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  smoke = common.check_arg(arg)
  c = common.trial_config("imagenet_resnet50", batch_size=1024, num_train_steps=150_000,
                          eval_every_steps=5000, dataset="imagenet2012", target_metric="error",
                          target_value=0.25)
  c.eval_batch_size = 1024
  c.dataset.num_validation_examples = 50_000
  c.dataset.image_size = 224
  c.dataset.num_threads = 0  # host threads for JPEG decoding and cropping; 0: one per CPU
  c.dataset.augment = True  # host-side RandomResizedCrop + flip; False: the eval crop
  c.loss.l2 = 1e-4
  c.loss.label_smoothing = 0.1
  c.model = ml_collections.ConfigDict()
  c.model.stage_sizes = (3, 4, 6, 3)
  c.model.num_filters = 64
  c.model.zero_init_last_bn = False
  c.model.dtype = "float32"
  if smoke:
    common.smoke(c, batch_size=8, eval_batch_size=16, num_synthetic_examples=64)
    c.dataset.num_validation_examples = 24  # two eval batches, the second one padded
    c.dataset.image_size = 32
    c.model.stage_sizes = (1,)
    c.model.num_filters = 8
  c.lock()
  return c
