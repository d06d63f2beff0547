# The commands of README.md. Each creates the virtual environment it needs.
#   make test                       the test suite
#   make demo [DATA=idx_dir]        a small real study on Fashion-MNIST and its report
#   make reproduce [DATA=idx_dir]   the three protocol studies (CPU-sized) and their reports
#   make reproduce_lstm [WP_DATA=dir]  the War and Peace LSTM studies (CPU-sized), reports
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

.PHONY: venv test demo reproduce reproduce_lstm clean

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

reproduce_lstm: venv
	$(OPTCOMPARE) data prepare war_and_peace $(if $(WP_DATA),--manual_dir=$(WP_DATA)) \
	  --data_dir=$(WP_WORK)/tfds
	for protocol in choi2019 wilson2017; do \
	  $(OPTCOMPARE) sweep --config=$(STUDIES)/$$protocol/war_and_peace_lstm.py:reduced \
	    --config.base.dataset.data_dir=$(WP_WORK)/tfds --workdir=$(WP_WORK)/$$protocol \
	    --parallel=$(PARALLEL) --retries=1 || exit 1; \
	done
	$(OPTCOMPARE) analyze --workdir=$(WP_WORK)/choi2019 --out=$(WP_RESULTS)/choi2019
	$(OPTCOMPARE) analyze --workdir=$(WP_WORK)/wilson2017 --compare=$(WP_WORK)/choi2019 \
	  --out=$(WP_RESULTS)/wilson2017

clean:
	rm -rf $(VENV) $(DEMO_DIR)
