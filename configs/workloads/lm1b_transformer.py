"""Transformer language model on LM1B (Choi et al. 2019, Table 2).

Budget (paper Table 2): batch 256 sequences, 750k steps.
Model: the decoder-only Transformer of Shallue et al. 2018, which Choi et al. train, in the
Flax `lm1b` example's form (optcompare/models/transformer.py): 6 pre-LN blocks, width 512,
8 heads, ReLU MLP 2048, fixed sinusoidal positions, untied softmax (the Flax example's and
Tensor2Tensor transformer_base's sizes; Shallue et al. 2018 name it "Transformer (base)").
Regularization (the Flax lm1b example's): dropout 0.1 on embeddings, residual branches and the
MLP, attention-probability dropout 0.1; no weight decay / L2; no label smoothing (T2T's
transformer_base smooths by 0.1, the Flax example does not; 0 keeps the objective equal to the
reported metric). These could not be checked against the paper's appendix offline.
Data (optcompare/data/lm1b.py): TFDS lm1b, one sentence per row, tokenized by a 32,000-piece
SentencePiece unigram model trained at `optcompare data prepare lm1b` time (the Flax lm1b
example's tokenizer; TFDS's `subwords32k` config no longer exists), [bos] + pieces + [eos],
padded (not packed) to 128 positions; sentences longer than that are truncated, in training
and evaluation alike (0.6% of the held-out sentences in ../shared/data/lm1b with a
4,000-piece vocabulary; fewer with 32,000 pieces, which split words less).
Validation: the last 50,000 sentences of TFDS `train`, held out; test: the benchmark's 306,688
held-out sentences (TFDS `test`).
Metric: `loss`, cross entropy in nats per real token (eos included, padding excluded).
Target: validation cross entropy 3.60 nats/token (perplexity ~37; chosen here, not from the
paper: per-token values depend on the tokenizer, so revisit after a first tuned run).
Precision: `model.dtype` "float32" (default) or "bfloat16" (bf16 compute, f32 parameters and
optimizer state). The paper does not state mixed precision; float32 is the default.

Arg `smoke`: 20 steps of batch 8 on synthetic token sequences (no TFDS), a 1-block width-32
model and a 64-piece vocabulary, for tests.
"""
import ml_collections

from configs.workloads import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  smoke = common.check_arg(arg)
  c = common.trial_config("lm1b_transformer", batch_size=256, num_train_steps=750_000,
                          eval_every_steps=10_000, dataset="lm1b", target_metric="loss",
                          target_value=3.60)
  c.eval_batch_size = 1024
  c.log_every_steps = 1000
  c.dataset.num_validation_examples = 50_000
  c.dataset.seq_len = 128
  c.dataset.num_threads = 0  # host threads for tokenizing; 0: one per CPU
  c.model = ml_collections.ConfigDict()
  c.model.vocab_size = 32_000
  c.model.num_layers = 6
  c.model.emb_dim = 512
  c.model.num_heads = 8
  c.model.mlp_dim = 2048
  c.model.dropout_rate = 0.1
  c.model.attention_dropout_rate = 0.1
  c.model.position_embedding = "sinusoidal"
  c.model.tie_embeddings = False
  c.model.dtype = "float32"
  if smoke:
    common.smoke(c, batch_size=8, eval_batch_size=16, num_synthetic_examples=256)
    c.dataset.num_validation_examples = 24  # two eval batches, the second one padded
    c.dataset.seq_len = 16
    c.model.vocab_size = 64
    c.model.num_layers = 1
    c.model.emb_dim = 32
    c.model.num_heads = 2
    c.model.mlp_dim = 64
  c.lock()
  return c
