# Every target sets up its own virtual environment first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CORPUS := data/corpus
PORT ?= 8501

.PHONY: setup app test bench corpus preprocess train ablation evaluate gradio clean

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/installed

## The main job: generate the embedded corpus (once) and open the lab on http://localhost:$(PORT)
app: setup $(CORPUS)/corpus.json
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

## The test suite (what CI runs through .ci/run)
test: setup
	$(PY) -m pytest -q

## Speed and memory figures of the targets
bench: setup
	$(PY) -m model.bench
	$(PY) -m lab.bench

$(CORPUS)/corpus.json:
	$(MAKE) corpus

## The full embedded corpus (1,809 clips, about 5 minutes on 2 cores)
corpus: setup
	$(PY) -m model.corpus --out $(CORPUS)

## Preprocess (face track, crops, optical flow) every clip into cache/
preprocess: setup $(CORPUS)/corpus.json
	$(PY) -m model.preprocess --data $(CORPUS)

## The shipped recipe with and without the inter-stream attention module
train: setup $(CORPUS)/corpus.json
	$(PY) -m model.train --data $(CORPUS) --out runs/two_stream_attention
	$(PY) -m model.train --data $(CORPUS) --out runs/two_stream_no_attention --no-attention

## The model card's ablation table (several training runs; see README)
ablation: setup $(CORPUS)/corpus.json
	$(PY) -m model.ablation --data $(CORPUS) --runs runs/ablation

gradio: setup
	$(PY) -m lab.gradio_app

clean:
	rm -rf cache runs artifacts
