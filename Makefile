# Graduate placement monitoring — common tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
REPORTS_DIR ?= reports
AS_OF ?= 2023-08-31
SIZE ?= demo
SEED ?= 2023
KERNEL ?= placement

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(BIN)/placement: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (placement)"
	-git rev-parse --git-dir >/dev/null 2>&1 && $(BIN)/nbstripout --install --attributes .gitattributes \
		&& git config filter.nbstripout.clean '"$(abspath $(BIN))/python" -m nbstripout --keep-id'
	@touch $@

.PHONY: setup
setup: $(BIN)/placement ## create .venv, install the project and register the Jupyter kernel

.PHONY: demo
demo: setup ## ONE command: set up, generate the demo province, ingest it, render the demo reports
	$(BIN)/placement generate --size demo --out $(DATA_DIR) --seed $(SEED)
	$(BIN)/placement run --as-of $(AS_OF) --data-dir $(DATA_DIR) --reports-dir $(REPORTS_DIR)

.PHONY: data
data: setup ## generate a synthetic data set (SIZE=demo|province|national)
	$(BIN)/placement generate --size $(SIZE) --out $(DATA_DIR) --seed $(SEED)

.PHONY: ingest
ingest: setup ## ingest raw files for AS_OF into data/processed/AS_OF
	$(BIN)/placement ingest --as-of $(AS_OF) --data-dir $(DATA_DIR)

.PHONY: report
report: setup ## render every report of a period: make report AS_OF=2023-08-31
	$(BIN)/placement run --as-of $(AS_OF) --data-dir $(DATA_DIR) --reports-dir $(REPORTS_DIR)

.PHONY: calendar
calendar: setup ## print the next reporting dates
	$(BIN)/placement calendar

.PHONY: test
test: setup ## run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadfile

.PHONY: lint
lint: setup ## ruff over code and notebooks; notebooks must have no outputs
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/python -m helpers.devtools check-notebooks notebooks

.PHONY: format
format: setup ## ruff format
	$(BIN)/ruff format src tests benchmarks

.PHONY: lab
lab: setup ## open JupyterLab in notebooks/ on the analyst's notebook explore.ipynb (探索分析)
	cd notebooks && $(abspath $(BIN))/jupyter lab explore.ipynb

.PHONY: bench
bench: setup ## run every benchmark on the province data set (generates it when missing)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/fanout.py
	$(BIN)/python benchmarks/evidence_quality.py

.PHONY: clean
clean: ## remove processed data and reports (raw data and keys stay)
	rm -rf $(DATA_DIR)/processed/* $(REPORTS_DIR)/*
	touch $(DATA_DIR)/processed/.gitkeep $(REPORTS_DIR)/.gitkeep
