# The commands of README.md. Each creates the virtual environment it needs.
#   make test                       the test suite less the tests marked slow (pytest.ini)
#   make test-all                   the whole test suite, slow tests included
#   make demo [DATA=idx_dir]        a small real study on Fashion-MNIST and its report
#   make reproduce [DATA=idx_dir]   the paper's protocol on Fashion-MNIST (CPU-sized): initial
#                                   study, narrow protocols, refined final study, re-runs, reports
#   make reproduce_lstm [WP_DATA=dir]  the same chain on War and Peace (CPU-sized LSTM)
#   make reproduce_modern [DATA=idx_dir] [WP_DATA=dir]  the modern study (Table 1 + lion, muon,
#                                   sfadamw, adopt) on both: initial, refine, final, re-runs
#   make test-latest                the quick checks in a fresh venv with the newest jax, flax,
#                                   optax and orbax-checkpoint (needs Python >= 3.12)
# DATA: a directory with the four original Fashion-MNIST IDX files, for machines without
# internet; without it TFDS downloads the dataset. WP_DATA: a directory with
# warpeace_input.txt (without it the text is downloaded).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OPTCOMPARE := $(BIN)/optcompare
DATA ?=
PARALLEL ?= 2
DEMO_DIR ?= demo_out
WORK ?= workdirs/reproduce
RESULTS ?= results/fashion_mnist
WP_DATA ?=
WP_WORK ?= workdirs/reproduce_lstm
WP_RESULTS ?= results/war_and_peace
STUDIES := configs/studies
WORKLOAD := fashion_mnist_simple_cnn
PREPARE = $(OPTCOMPARE) data prepare fashion_mnist $(if $(DATA),--manual_dir=$(DATA)) --data_dir=$(1)

.PHONY: venv test test-all test-latest demo reproduce reproduce_lstm reproduce_modern clean

$(OPTCOMPARE): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(OPTCOMPARE)

test: venv
	$(BIN)/python -m pytest -q -m "not slow" tests

test-all: venv
	$(BIN)/python -m pytest -q tests

# The quick checks on the newest jax, flax, optax and orbax-checkpoint the registry offers,
# the rest pinned as setup.py says, in a venv made afresh each time. The newest jax needs
# Python >= 3.12: LATEST_PYTHON defaults to the first such interpreter found (pyenv's too).
LATEST_VENV ?= .venv-latest
LATEST_PACKAGES := jax jaxlib flax optax orbax-checkpoint
LATEST_PYTHON ?= $(firstword $(foreach p,python3 python3.13 python3.12 \
  $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3),$(shell $(p) -c \
  'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && echo $(p))))
# setup.py's requirements less LATEST_PACKAGES (their pins would hold the old versions).
PINNED_REST = import runpy, re; s = runpy.run_path("setup.py", run_name="requirements"); \
  print("\n".join(r for r in s["INSTALL_REQUIRES"] \
  if re.match(r"[A-Za-z0-9_.-]+", r)[0] not in "$(LATEST_PACKAGES)".split()))

test-latest:
	@test -n "$(LATEST_PYTHON)" || { echo "make test-latest: no Python >= 3.12 found;" \
	  "name one with LATEST_PYTHON=/path/to/python3.12" >&2; exit 2; }
	rm -rf $(LATEST_VENV)
	$(LATEST_PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install -q --upgrade pip setuptools  # setup.py is read below
	$(LATEST_VENV)/bin/python -c '$(PINNED_REST)' > $(LATEST_VENV)/pinned-rest.txt
	$(LATEST_VENV)/bin/pip install -q -r $(LATEST_VENV)/pinned-rest.txt pytest \
	  $(LATEST_PACKAGES)
	$(LATEST_VENV)/bin/pip install -q --no-deps -e .
	$(LATEST_VENV)/bin/pip list 2>/dev/null | grep -i -E '^(jax|jaxlib|flax|optax|orbax-checkpoint) '
	$(LATEST_VENV)/bin/python -m pytest -q -m "not slow" tests/test_optimizers.py \
	  tests/test_train.py
	$(LATEST_VENV)/bin/python benchmarks/accelerator_check.py --quick

demo: venv
	$(call PREPARE,$(DEMO_DIR)/tfds)
	$(OPTCOMPARE) sweep --config=$(STUDIES)/choi2019/$(WORKLOAD).py:demo \
	  --config.base.dataset.data_dir=$(DEMO_DIR)/tfds --workdir=$(DEMO_DIR)/study \
	  --parallel=$(PARALLEL)
	$(OPTCOMPARE) analyze --workdir=$(DEMO_DIR)/study --out=$(DEMO_DIR)/report
	@echo "report: $(DEMO_DIR)/report/report.md"

# The paper's protocol (issue 13): an initial study over wide spaces; the narrow protocols,
# each with seed re-runs of its best trials; final spaces refined from the initial study so
# that they hold the narrow protocols' best trials; the final study (100 trials per
# optimizer, 5 seed re-runs of each best); the reports. Resumable: rerun to continue.
REPRO_FLAGS = --parallel=$(PARALLEL) --retries=2
RERUNS = --config.reruns.top=1 --config.reruns.seeds=$(1)

reproduce: venv
	$(call PREPARE,$(WORK)/tfds)
	$(OPTCOMPARE) sweep --config=$(STUDIES)/choi2019/$(WORKLOAD).py:reduced \
	  --config.base.dataset.data_dir=$(WORK)/tfds --workdir=$(WORK)/choi2019 $(REPRO_FLAGS)
	for protocol in wilson2017 schneider2019; do \
	  $(OPTCOMPARE) sweep --config=$(STUDIES)/$$protocol/$(WORKLOAD).py:reduced $(call RERUNS,3) \
	    --config.base.dataset.data_dir=$(WORK)/tfds --workdir=$(WORK)/$$protocol \
	    $(REPRO_FLAGS) || exit 1; \
	done
	$(OPTCOMPARE) refine --workdir=$(WORK)/choi2019 --out=$(WORK)/choi2019_final_spaces.py \
	  --contain=$(WORK)/wilson2017 --contain=$(WORK)/schneider2019
	$(OPTCOMPARE) sweep --config=$(WORK)/choi2019_final_spaces.py:reduced \
	  --config.num_trials=100 $(call RERUNS,5) --config.base.dataset.data_dir=$(WORK)/tfds \
	  --workdir=$(WORK)/choi2019_final $(REPRO_FLAGS)
	$(OPTCOMPARE) analyze --workdir=$(WORK)/choi2019 --out=$(RESULTS)/choi2019
	$(OPTCOMPARE) analyze --workdir=$(WORK)/choi2019_final --out=$(RESULTS)/choi2019_final
	for protocol in wilson2017 schneider2019; do \
	  $(OPTCOMPARE) analyze --workdir=$(WORK)/$$protocol --compare=$(WORK)/choi2019_final \
	    --out=$(RESULTS)/$$protocol || exit 1; \
	done

# The same chain on War and Peace: initial choi2019 (8 trials per optimizer), final spaces
# holding wilson2017's best trials, final choi2019 with 32 trials and wilson2017 with 16, each
# with 3 seed re-runs of its best trials. 8 initial trials are fewer than the 16 per optimizer
# refine asks for (the LSTM's CPU budget): --force, and the written spaces say so.
reproduce_lstm: venv
	$(OPTCOMPARE) data prepare war_and_peace $(if $(WP_DATA),--manual_dir=$(WP_DATA)) \
	  --data_dir=$(WP_WORK)/tfds
	$(OPTCOMPARE) sweep --config=$(STUDIES)/choi2019/war_and_peace_lstm.py:reduced \
	  --config.base.dataset.data_dir=$(WP_WORK)/tfds --workdir=$(WP_WORK)/choi2019 $(REPRO_FLAGS)
	$(OPTCOMPARE) sweep --config=$(STUDIES)/wilson2017/war_and_peace_lstm.py:reduced \
	  --config.num_trials=16 $(call RERUNS,3) --config.base.dataset.data_dir=$(WP_WORK)/tfds \
	  --workdir=$(WP_WORK)/wilson2017 $(REPRO_FLAGS)
	$(OPTCOMPARE) refine --workdir=$(WP_WORK)/choi2019 --out=$(WP_WORK)/choi2019_final_spaces.py \
	  --contain=$(WP_WORK)/wilson2017 --force
	$(OPTCOMPARE) sweep --config=$(WP_WORK)/choi2019_final_spaces.py:reduced \
	  --config.num_trials=32 $(call RERUNS,3) --config.base.dataset.data_dir=$(WP_WORK)/tfds \
	  --workdir=$(WP_WORK)/choi2019_final $(REPRO_FLAGS)
	$(OPTCOMPARE) analyze --workdir=$(WP_WORK)/choi2019 --out=$(WP_RESULTS)/choi2019
	$(OPTCOMPARE) analyze --workdir=$(WP_WORK)/choi2019_final --out=$(WP_RESULTS)/choi2019_final
	$(OPTCOMPARE) analyze --workdir=$(WP_WORK)/wilson2017 --compare=$(WP_WORK)/choi2019_final \
	  --out=$(WP_RESULTS)/wilson2017

# The modern study (issue 25): Table 1's six and lion, muon, sfadamw, adopt under the same
# protocol on both CPU-sized workloads: initial study, refined spaces, final study of 64 trials
# per optimizer with seed re-runs of each best trial, reports under results/modern/.
MODERN_WORK ?= workdirs/modern
MODERN_RESULTS ?= results/modern
MODERN = $(STUDIES)/modern

reproduce_modern: venv
	$(call PREPARE,$(MODERN_WORK)/tfds)
	$(OPTCOMPARE) data prepare war_and_peace $(if $(WP_DATA),--manual_dir=$(WP_DATA)) \
	  --data_dir=$(MODERN_WORK)/tfds
	for w in fashion_mnist_simple_cnn:fashion_mnist war_and_peace_lstm:war_and_peace; do \
	  workload=$${w%%:*}; name=$${w##*:}; work=$(MODERN_WORK)/$$name; \
	  $(OPTCOMPARE) sweep --config=$(MODERN)/$$workload.py:reduced \
	    --config.base.dataset.data_dir=$(MODERN_WORK)/tfds --workdir=$${work}_initial \
	    $(REPRO_FLAGS) && \
	  $(OPTCOMPARE) refine --workdir=$${work}_initial --out=$${work}_final_spaces.py && \
	  $(OPTCOMPARE) sweep --config=$${work}_final_spaces.py:reduced --config.num_trials=64 \
	    $(call RERUNS,5) --config.base.dataset.data_dir=$(MODERN_WORK)/tfds \
	    --workdir=$${work}_final $(REPRO_FLAGS) && \
	  $(OPTCOMPARE) analyze --workdir=$${work}_initial --out=$(MODERN_RESULTS)/$$name/initial && \
	  $(OPTCOMPARE) analyze --workdir=$${work}_final --out=$(MODERN_RESULTS)/$$name/final \
	  || exit 1; \
	done

clean:
	rm -rf $(VENV) $(LATEST_VENV) $(DEMO_DIR)
