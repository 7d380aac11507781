"""Concept-based explanations: does the network's evidence for a class rise with the action units the class is made of?
``python -m cli.concepts`` scores a checkpoint on the embedded corpus.

TCAV (Kim et al. 2018; Captum's ``captum.concept.TCAV``) learns a concept activation vector (CAV) at a layer: the
normal of a linear boundary between the activations of a concept's examples and those of random examples. Along the
CAV, the gradient of a clip's class logit says whether the class's evidence rises with the concept. Here:

- a concept is an action unit (AU): Train clips whose sidecar shows it clearly active at the apex (its expression
  part, ``active_threshold``); the random concepts are random Train clips, each set drawn on its own;
- every concept, and every random concept, gets a CAV against each (other) random concept;
- the explained clips are each class's clips of the Val or Test split, with the class as the target;
- the layers: the end of each stream (its token grid, before the inter-stream attention) and the fusion layer, the
  first to read both streams after the attention module.

Per class, layer and concept: ``tcav_score`` is TCAV's usual score, the share of clips whose class logit rises along
the CAV (Captum's sign_count); ``magnitude`` is the mean directional derivative along the unit CAV. The p-value is a
two-sided t-test of the concept's magnitude against the random concepts' magnitudes: does the concept score like one
more random concept? Two choices depart from Captum's TCAV tutorial, which t-tests one concept's per-CAV sign_counts
against one random concept's; measured on this module's planted-concept test (tests/lab/test_concepts.py) over
seeds:

- one concept's per-CAV scores share its examples and are no independent samples: the tutorial's test called the
  decoy, or the planted concept for the class that ignores it, significant in 17-33 % of 12 seeds at the 2.5 % level;
  one score per concept against the random concepts' did in none of 60 cases at 5 %;
- sign_count saturates: a random concept whose CAV leans the gradient's way at all scores 1.0 too, so the planted
  concept stood out from the random concepts in 15 of 20 seeds by sign_count, in all 20 by magnitude (at 5 %).

Each test holds at ``alpha`` on its own: of the 357 on the full corpus (17 AUs x 7 classes x 3 layers), up to about 5 %
of those without an effect can come out significant by chance. The corpus knows which AUs make each class
(model.data.corpus.PROTOTYPES, EMFACS): the ``prototype`` column says whether the class's prototype moves the AU, the
ground truth that the significant concepts can be checked against.
"""
from __future__ import annotations

import random
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from captum.concept import TCAV, Concept, DefaultClassifier
from scipy.stats import ttest_ind
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lab.dataset import read_sidecar
from lab.trust import listed
from lab.whatif import au_label
from model import locations
from model.checkpoint import load_checkpoint
from model.config import CLASSES, INFERENCE_BATCH, check, setting
from model.data.clipset import load_clipset
from model.data.corpus import PROTOTYPES
from model.data.datasets import ClipRecord, CorpusError, open_corpus
from model.network import TwoStreamNet

# tcav_score: Captum's sign_count (the share of explained clips whose class logit rises along the CAV), averaged over
# the concept's CAVs; magnitude: the mean directional derivative along the unit CAV (Captum's magnitude divided by the
# CAV's length), averaged likewise: above 0, the class's evidence rises with the concept
COLUMNS = ["layer", "module", "class", "concept", "tcav_score", "magnitude", "p_value", "significant"]

Examples = tuple[torch.Tensor, ...]  # a model's inputs for N examples, aligned on the first dimension
Progress = Callable[[int, int, str], None]  # (steps done, steps in all, what is happening)


@dataclass(frozen=True)
class ConceptSettings:
    """How many clips TCAV sees; with the defaults the shipped checkpoint takes 6.3 minutes on a busy 2-core CPU with
    a cold processing cache (nearly half of it processing 520 clips), 3.5 with a warm one."""

    clips_per_concept: int = setting(20, "examples of each AU concept and of each random concept", minimum=2)
    random_concepts: int = setting(12, "sets of random Train clips: the CAVs' other sides and the t-test's chance "
                                   "level", minimum=3)
    explained_clips: int = setting(20, "clips explained per class", minimum=1)
    min_clips: int = setting(5, "leave out AUs clearly active in fewer Train clips than this", minimum=2)
    active_threshold: float = setting(0.4, "apex intensity of a clearly active AU (expression AUs peak from about 0.2 "
                                      "to 1)", minimum=0, maximum=1)
    alpha: float = setting(0.05, "significance level of the t-test", above=0, maximum=1)
    batch_size: int = setting(INFERENCE_BATCH, "clips per forward pass", minimum=1)
    seed: int = setting(0, "of the random concepts and the CAVs")

    def __post_init__(self) -> None:
        check(self)


@dataclass
class ConceptReport:
    table: pd.DataFrame  # COLUMNS + prototype
    skipped: dict[str, int] = field(default_factory=dict)  # AU -> Train clips it is clearly active in (too few)
    seconds: float = 0.0


# --- TCAV on any model -----------------------------------------------------------------------------------------------

def network_layers(model: TwoStreamNet) -> dict[str, str]:
    """Layer label -> module name: each stream's token grid and the fusion layer after the inter-stream attention."""
    layers = {}
    if model.spatial is not None:
        layers["spatial"] = "spatial.temporal" if model.reads_faces else "spatial.stages"
    if model.temporal is not None:
        layers["temporal"] = "temporal.stages"
    layers["fusion"] = "fusion"
    return layers


def _float_batch(batch: list[Examples]) -> Examples:
    """Collate (rgb, flow, ...) examples into a tuple of float batches: Captum passes a tuple on as the model's
    inputs, a list it would take for one input."""
    return tuple(torch.stack(column).float() for column in zip(*batch))


class _ReportingClassifier(DefaultClassifier):
    """Captum's default CAV classifier (sklearn's SGD, linear) that calls ``on_fit`` after each CAV: the progress."""

    def __init__(self, on_fit: Callable[[], None]):
        super().__init__()
        self.on_fit = on_fit

    def train_and_eval(self, dataloader, **kwargs):
        stats = super().train_and_eval(dataloader, **kwargs)
        self.on_fit()
        return stats


def tcav_table(model: nn.Module, layers: dict[str, str], concepts: dict[str, Examples], randoms: list[Examples],
               explained: dict[str, tuple[int, Examples]], settings: ConceptSettings = ConceptSettings(),
               progress: Progress | None = None) -> pd.DataFrame:
    """One row per layer, explained class and concept (COLUMNS), from Captum's TCAV on ``model``.

    ``concepts`` and ``randoms`` hold each concept's examples, ``explained`` each class's target index and inputs.
    Every concept and every random concept gets a CAV against each (other) random concept, and its scores are the
    means over those CAVs. A pair of random concepts shares one CAV, pointing either way, so their scores average 0.5
    and 0 by construction: the t-test reads how far they spread. CAVs and activations live in a temporary folder for
    this call only, so nothing is reused
    across checkpoints. Captum's default classifier shuffles with Python's ``random`` and fits with NumPy's global
    generator: both are seeded here, which makes a run repeatable.
    """
    if len(randoms) < 3:
        raise ValueError(f"the t-test needs at least 3 random concepts, got {len(randoms)}")
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    named = [*concepts.items(), *((f"random_{i}", x) for i, x in enumerate(randoms))]
    objects = [Concept(i, name, DataLoader(TensorDataset(*x), batch_size=settings.batch_size, collate_fn=_float_batch))
               for i, (name, x) in enumerate(named)]
    tested, pool = objects[:len(concepts)], objects[len(concepts):]
    experiments = [[concept, other] for concept in tested for other in pool] + [list(p) for p in combinations(pool, 2)]
    steps, done = len(experiments) * len(layers) + len(explained), 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps, what)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tcav-") as folder, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using default classifier for TCAV")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"captum\.")  # a slow tensor copy, once
        warnings.filterwarnings("ignore", category=ConvergenceWarning)  # some fits on few examples; the t-test judges
        tcav = TCAV(model, list(layers.values()), classifier=_ReportingClassifier(lambda: tick("learned a CAV")),
                    save_path=folder)
        # All at once with force_train: Captum 0.9 looks activations up with AV.exists's arguments swapped, so it
        # would otherwise recompute both concepts' activations for every pair; this way each is computed once.
        tcav.compute_cavs(experiments, force_train=True)
        for name, (target, inputs) in explained.items():
            scores = tcav.interpret(tuple(x.float() for x in inputs), experiments, target=target)
            for label, module in layers.items():
                chance = [_mean_score(tcav, scores, r, pool, module, "magnitude") for r in pool]
                for concept in tested:
                    magnitude = _mean_score(tcav, scores, concept, pool, module, "magnitude")
                    rows.append({"layer": label, "module": module, "class": name, "concept": concept.name,
                                 "tcav_score": _mean_score(tcav, scores, concept, pool, module, "sign_count"),
                                 "magnitude": magnitude, "p_value": _two_sided_p(magnitude, chance)})
            tick(f"scored {name}")
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["significant"] = table["p_value"] < settings.alpha
    return table


def _mean_score(tcav: TCAV, scores: dict, concept: Concept, pool: list[Concept], module: str, kind: str) -> float:
    """A concept's score at a layer, averaged over its CAVs against the random concepts (but itself), from Captum's
    nested dict, where each set lists the concept with the lower id first. Magnitudes are divided by the CAV's length,
    to read along the unit CAV."""
    values = []
    for other in pool:
        if other is not concept:
            first, second = sorted((concept, other), key=lambda c: c.id)
            key = f"{first.id}-{second.id}"
            value = float(scores[key][module][kind][0 if concept is first else 1])
            values.append(value / float(tcav.cavs[key][module].stats["weights"][0].norm()) if kind == "magnitude"
                          else value)
    return float(np.mean(values))


def _two_sided_p(score: float, chance: list[float]) -> float:
    """Student's two-sample t-test of one score against many: could it be one more of them (the test of a
    prediction interval)? NaN when all are equal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy warns on constant input before it returns NaN
        return float(ttest_ind([score], chance).pvalue)


# --- AU concepts from the embedded corpus ----------------------------------------------------------------------------

def active_aus(meta: dict, threshold: float) -> list[str]:
    """The AUs of a sidecar whose expression intensity at the apex frame is at least ``threshold``."""
    apex = meta["au"][meta["apex_frame"]]
    return [name for name, value in zip(meta["au_names"], apex) if value >= threshold]


def au_concepts(records: list[ClipRecord], settings: ConceptSettings) -> tuple[dict[str, list[ClipRecord]],
                                                                              dict[str, int]]:
    """AU -> up to ``clips_per_concept`` clips (seeded draw) where it is clearly active, and the AUs left out for
    too few clips (with their count). CorpusError when no clip has a sidecar: only the embedded corpus has AUs."""
    metas = [(r, read_sidecar(r.path)) for r in records]
    metas = [(r, m) for r, m in metas if m is not None]
    if not metas:
        raise CorpusError(f"no Train clip has an AU sidecar (e.g. {records[0].path.with_suffix('.json')}): pass the "
                          "embedded corpus (python -m cli.corpus), the only one that records action units")
    clips: dict[str, list[ClipRecord]] = {name: [] for name in metas[0][1]["au_names"]}
    for record, meta in metas:
        for name in active_aus(meta, settings.active_threshold):
            clips[name].append(record)
    rng = random.Random(settings.seed)
    chosen = {name: rng.sample(found, min(len(found), settings.clips_per_concept))
              for name, found in clips.items() if len(found) >= settings.min_clips}
    if not chosen:
        raise CorpusError(f"no AU is clearly active (>= {settings.active_threshold}) in {settings.min_clips} or more "
                          "Train clips: use a larger corpus or a smaller --min-clips")
    return chosen, {name: len(found) for name, found in clips.items() if name not in chosen}


def random_concepts(records: list[ClipRecord], settings: ConceptSettings) -> list[list[ClipRecord]]:
    """``random_concepts`` sets of random clips, each drawn on its own (sets may share clips, as in TCAV)."""
    rng = random.Random(settings.seed + 1)
    return [rng.sample(records, min(len(records), settings.clips_per_concept)) for _ in range(settings.random_concepts)]


def explained_clips(records: list[ClipRecord], settings: ConceptSettings) -> dict[int, list[ClipRecord]]:
    """Class index -> up to ``explained_clips`` clips of that class (seeded draw); classes without clips are absent."""
    rng = random.Random(settings.seed + 2)
    by_class = {k: [r for r in records if r.label == k] for k in range(len(CLASSES))}
    return {k: rng.sample(found, min(len(found), settings.explained_clips)) for k, found in by_class.items() if found}


def prototype_role(class_name: str, au: str) -> str:
    """'core', 'optional' or '': the AU's place in the corpus's prototype of the class (moved always, sometimes)."""
    prototype = PROTOTYPES[class_name]
    return "core" if au in prototype.core else "optional" if au in prototype.optional else ""


def corpus_concepts(checkpoint: Path, data: Path | None = None, split: str = "Test",
                    settings: ConceptSettings = ConceptSettings(), progress: Progress | None = None,
                    cache_dir: Path | None = None, workers: int = 1, fold: int = 1) -> ConceptReport:
    """TCAV of every AU concept (Train clips) for every class of ``split`` of ``data`` (default: the embedded corpus)
    at network_layers, with the prototype column. Clips are processed as the checkpoint was trained (its
    ProcessConfig, through ``cache_dir``, by default the processing cache); a tqdm bar shows that step when
    ``progress`` is given. ``fold`` picks DFEW's split files."""
    started = time.perf_counter()
    model, process_config, _ = load_checkpoint(checkpoint)
    data = data or locations.corpus()
    corpus = open_corpus(data, fold)
    train = corpus.clips("Train")
    concepts, skipped = au_concepts(train, settings)
    randoms = random_concepts(train, settings)
    explained = explained_clips(corpus.clips(split), settings)
    if not explained:
        raise CorpusError(f"the {split} split of {data} has no labelled clips to explain: use Val or Test of the "
                          "embedded corpus")
    wanted = [*concepts.values(), *randoms, *explained.values()]
    unique = list(dict.fromkeys(r for records in wanted for r in records))
    clips = load_clipset(unique, process_config, cache_dir, workers, desc="processing clips",
                         progress=progress is not None)
    row_of = {r.path: i for i, r in enumerate(clips.records)}

    def examples(records: list[ClipRecord]) -> Examples:
        index = torch.tensor([row_of[r.path] for r in records])
        return clips.rgb[index], clips.flow[index]
    table = tcav_table(model, network_layers(model), {au: examples(r) for au, r in concepts.items()},
                       [examples(r) for r in randoms], {CLASSES[k]: (k, examples(r)) for k, r in explained.items()},
                       settings, progress)
    table["prototype"] = [prototype_role(c, au) for c, au in zip(table["class"], table["concept"])]
    return ConceptReport(table, skipped, time.perf_counter() - started)


def summary(table: pd.DataFrame) -> list[str]:
    """One line per class and layer: the significant AUs the class's evidence rises with, then those it falls with
    (negative directional derivative), most significant first; * marks the prototype's AUs."""
    lines = []
    for (name, layer), rows in table.groupby(["class", "layer"], sort=False):
        found = rows[rows.significant].sort_values("p_value")
        words = {True: [], False: []}
        for r in found.itertuples():
            words[r.magnitude > 0].append(f"{r.concept}{'*' if r.prototype else ''}")
        lines.append(f"{name:8s} {layer:8s} rises with: {' '.join(words[True]) or '-'}; "
                     f"falls with: {' '.join(words[False]) or '-'}")
    return lines


DEPENDS = 0.05  # removing an AU lowers the true class's probability by this much on average: the class depends on it


def compare_with_interventions(tcav: pd.DataFrame, dependence: pd.DataFrame, attention: str | None = None
                               ) -> pd.DataFrame:
    """Per class and AU: the corpus's prototype, what the interventions measured (lab.intervene.class_dependence:
    ``drop``, ``changes``) in ``attention`` mode (default: the model's own, "on" where it has the module), and TCAV's
    verdict at each layer ("rises", "falls" or "" when not significant)."""
    attention = attention or max(dependence["attention"].unique())  # on > bypassed > absent
    measured = dependence[dependence["attention"] == attention].rename(columns={"label": "class", "target": "concept"})
    verdicts = tcav.assign(verdict=np.where(~tcav["significant"], "", np.where(tcav["magnitude"] > 0, "rises",
                                                                                "falls")))
    by_layer = verdicts.pivot_table(index=["class", "concept"], columns="layer", values="verdict", aggfunc="first")
    table = measured[["class", "concept", "drop", "changes", "clips"]].merge(
        by_layer.reset_index(), on=["class", "concept"], how="outer")
    table["prototype"] = [prototype_role(c, au) for c, au in zip(table["class"], table["concept"])]
    table["depends"] = table["drop"] >= DEPENDS
    return table.sort_values(["class", "drop"], ascending=[True, False], ignore_index=True)


LAYER_NAMES = {"spatial": "the spatial stream", "temporal": "the temporal stream",
               "fusion": "the fusion layer (after the attention module)"}


def class_sentence(comparison: pd.DataFrame, name: str, layer: str = "fusion", most: int = 3) -> str:
    """What class ``name`` depends on, in plain words: the AUs whose removal costs it the most (up to ``most`` of
    those over DEPENDS), whether the corpus's recipe draws them, and whether TCAV at ``layer`` finds them."""
    rows = comparison[(comparison["class"] == name) & comparison["depends"]].head(most)
    if rows.empty and not PROTOTYPES[name].core:
        return (f"**{name}**: its recipe draws no action unit (a face at rest), and removing any action unit the "
                f"clips show costs it less than {DEPENDS:.0%}.")
    if rows.empty:
        return (f"**{name}**: removing no single action unit costs it {DEPENDS:.0%} or more of its probability; "
                "the model reads it from several together, or from what the action units do not name.")
    needed = [f"{au_label(r.concept)} ({r.drop:.0%} lost when removed)" for r in rows.itertuples()]
    outside = [r.concept for r in rows.itertuples() if not r.prototype]
    sentence = f"**{name}** depends most on {listed(needed)}"
    sentence += (f"; {listed(outside)} {'is' if len(outside) == 1 else 'are'} not in its recipe: the model uses "
                 "what the corpus draws with it." if outside else
                 f", {'in' if len(needed) == 1 else 'all in'} its recipe.")
    if layer in rows:
        found = [r.concept for r in rows.itertuples() if getattr(r, layer) == "rises"]
        missed = [r.concept for r in rows.itertuples() if getattr(r, layer) != "rises"]
        sentence += f" TCAV at {LAYER_NAMES.get(layer, layer)} " + (
            f"finds {listed(found)}" if found else "does not find it" if len(rows) == 1 else "finds none of them") + (
            f" and misses {listed(missed)}." if found and missed else ".")
    return sentence


def agreement(comparison: pd.DataFrame, layer: str) -> dict[str, float]:
    """How often TCAV at ``layer`` and the interventions agree, over the (class, AU) pairs both measured: the share
    of the AUs a class depends on that TCAV finds rising, and the share of TCAV's rising AUs that the class depends
    on."""
    both = comparison.dropna(subset=["drop", layer])
    rising = both[layer] == "rises"
    return {"pairs": len(both), "found": float(rising[both["depends"]].mean()),
            "confirmed": float(both["depends"][rising].mean())}
