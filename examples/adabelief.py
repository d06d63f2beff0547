"""AdaBelief (Zhuang et al. 2020) as an optcompare plug-in optimizer.

AdaBelief is Adam with the second moment of the gradient replaced by that of its deviation
from the first moment ("belief" in the observed gradient):
  m ← β1 m + (1−β1) g;  s ← β2 s + (1−β2) (g − m)² + ε_root;
  θ ← θ − α_t m̂ / (√ŝ + ε),  with m̂, ŝ bias-corrected as in Adam.

The plug-in contract (README "Compare your own optimizer", optcompare/plugins.py): a dict
HYPERPARAMETERS of every hyperparameter with its default, `learning_rate` among them (a study's
schedule applies to it), and `make(**hyperparameters)` returning an
optax.GradientTransformation. `make` is called with traced values, so it must not use them in
Python control flow. Check it with `optcompare check-optimizer adabelief.py`.
"""
import optax

HYPERPARAMETERS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-16}


def make(learning_rate, beta1, beta2, epsilon):
  return optax.adabelief(learning_rate, b1=beta1, b2=beta2, eps=epsilon)
