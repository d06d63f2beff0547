"""optcompare: fair, reproducible empirical comparisons of deep-learning optimizers."""
import setuptools

# Versions are pinned to the set this project is tested with; JAX, Flax NNX, Orbax and
# optax change their APIs often enough that a floating version breaks a fresh clone.
# jax and flax are pinned per Python: jax >= 0.11 and flax >= 0.12.9 need Python 3.12, and
# no flax imports on both sides (flax 0.12.8 fails on jax 0.11 with `hijax.HiPrimitive`;
# flax 0.12.9+ requires jax >= 0.11.1). 3.12+ gets the jax that GPU images ship today.
_PY311 = 'python_version < "3.12"'
_PY312 = 'python_version >= "3.12"'
JAX = {_PY311: "0.10.2", _PY312: "0.11.2"}
FLAX = {_PY311: "0.12.8", _PY312: "0.12.10"}


def _per_python(name, versions):
  """`name==version; marker` for each Python marker in `versions`."""
  return [f"{name}=={version}; {marker}" for marker, version in versions.items()]


INSTALL_REQUIRES = [
    *_per_python("jax", JAX),
    *_per_python("jaxlib", JAX),
    *_per_python("flax", FLAX),
    "optax==0.2.8",
    "orbax-checkpoint==0.12.8",
    "clu==0.0.12",
    "ml-collections==1.1.0",
    "tensorflow-cpu==2.21.0",
    "tensorboard==2.21.0",
    "tensorflow-datasets==4.9.10",
    "importlib_resources",
    "absl-py",
    "etils[epath]",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "pillow",
    "sentencepiece==0.2.3",
]

EXTRAS_REQUIRE = {
    # jax with its CUDA plugin and CUDA libraries from pip, at the pinned jax.
    "cuda": _per_python("jax[cuda12]", JAX),
    "cuda13": _per_python("jax[cuda13]", JAX),
    "tpu": _per_python("jax[tpu]", JAX),  # libtpu from pip, for Cloud TPU VMs
    "ray": ["ray==2.60.0"],
    "test": ["pytest", "nbclient", "nbformat", "ipykernel", "ray==2.60.0"],
}

# Guarded so that `make test-latest` can read the lists above without building anything
# (setuptools runs this file as __main__).
if __name__ == "__main__":
  setuptools.setup(
      name="optcompare",
      version="0.1.0",
      description=__doc__,
      # configs/ ships too: config files import their shared pieces as `configs.<...>`.
      packages=setuptools.find_packages(include=["optcompare", "optcompare.*", "configs",
                                                 "configs.*"]),
      python_requires=">=3.11",
      install_requires=INSTALL_REQUIRES,
      extras_require=EXTRAS_REQUIRE,
      entry_points={"console_scripts": ["optcompare=optcompare.cli:run"]},
  )
