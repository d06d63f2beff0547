"""optcompare: fair, reproducible empirical comparisons of deep-learning optimizers."""
import setuptools

# Versions are pinned to the set this project is tested with; JAX, Flax NNX, Orbax and
# optax change their APIs often enough that a floating version breaks a fresh clone.
INSTALL_REQUIRES = [
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
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

setuptools.setup(
    name="optcompare",
    version="0.1.0",
    description=__doc__,
    # configs/ ships too: config files import their shared pieces as `configs.<...>`.
    packages=setuptools.find_packages(include=["optcompare", "optcompare.*", "configs",
                                               "configs.*"]),
    python_requires=">=3.10",
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "ray": ["ray==2.60.0"],
        "test": ["pytest", "nbclient", "nbformat", "ipykernel", "ray==2.60.0"],
    },
    entry_points={"console_scripts": ["optcompare=optcompare.cli:run"]},
)
