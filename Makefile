# The commands of README.md. Each creates the virtual environment it needs.
#   make test                       the test suite
#   make demo [DATA=idx_dir]        a small real study on Fashion-MNIST and its report
#   make reproduce [DATA=idx_dir]   the three protocol studies (CPU-sized) and their reports
# DATA: a directory with the four original Fashion-MNIST IDX files, for machines without
# internet; without it TFDS downloads the dataset.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OPTCOMPARE := $(BIN)/optcompare
DATA ?=
PARALLEL ?= 2
DEMO_DIR ?= demo_out
WORK ?= workdirs/reproduce
RESULTS ?= results/fashion_mnist
STUDIES := configs/studies
WORKLOAD := fashion_mnist_simple_cnn
PREPARE = $(OPTCOMPARE) data prepare fashion_mnist $(if $(DATA),--manual_dir=$(DATA)) --data_dir=$(1)

.PHONY: venv test demo reproduce clean

$(OPTCOMPARE): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(OPTCOMPARE)

test: venv
	$(BIN)/python -m pytest -q tests

demo: venv
	$(call PREPARE,$(DEMO_DIR)/tfds)
	$(OPTCOMPARE) sweep --config=$(STUDIES)/choi2019/$(WORKLOAD).py:demo \
	  --config.base.dataset.data_dir=$(DEMO_DIR)/tfds --workdir=$(DEMO_DIR)/study \
	  --parallel=$(PARALLEL)
	$(OPTCOMPARE) analyze --workdir=$(DEMO_DIR)/study --out=$(DEMO_DIR)/report
	@echo "report: $(DEMO_DIR)/report/report.md"

reproduce: venv
	$(call PREPARE,$(WORK)/tfds)
	for protocol in choi2019 wilson2017 schneider2019; do \
	  $(OPTCOMPARE) sweep --config=$(STUDIES)/$$protocol/$(WORKLOAD).py:reduced \
	    --config.base.dataset.data_dir=$(WORK)/tfds --workdir=$(WORK)/$$protocol \
	    --parallel=$(PARALLEL) --retries=1 || exit 1; \
	done
	$(OPTCOMPARE) analyze --workdir=$(WORK)/choi2019 --out=$(RESULTS)/choi2019
	for protocol in wilson2017 schneider2019; do \
	  $(OPTCOMPARE) analyze --workdir=$(WORK)/$$protocol --compare=$(WORK)/choi2019 \
	    --out=$(RESULTS)/$$protocol || exit 1; \
	done

clean:
	rm -rf $(VENV) $(DEMO_DIR)
