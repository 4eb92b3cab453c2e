"""Match a generation prompt against a cameo owner's free-text restrictions.

Two signals, either one is enough for a conflict:
- exact terms: the restriction's topic words (plus the synonyms of a known topic such as
  politics or alcohol), stemmed and matched on word boundaries in the prompt;
- semantics: cosine similarity between the prompt (and each of its sentences) and the
  restriction's topic phrase with a few paraphrase exemplars, using the shared MiniLM model.

Pure domain code: no gRPC, no storage. The threshold comes from `benchmarks/eval_restrictions.py`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kinora.ml.embeddings import embed
from kinora.ml.text import checked_prompt

MAX_PROMPT_CHARS = 4000
MAX_RESTRICTION_CHARS = 300
MAX_RESTRICTIONS = 50
# The semantic signal is a z-score: how far the prompt's similarity to the restriction stands above
# the similarities of everyday prompts (_BACKGROUND) to it. Raw cosine alone over-fires on topics
# near everything ("alcohol" vs "drinking orange juice"). Max F1 on the "tune" split of
# data/restriction_cases.jsonl (benchmarks/eval_restrictions.py --sweep).
SEMANTIC_THRESHOLD = 3.6

# Words that frame a restriction ("never put me in ...") rather than name its topic.
_FRAME_WORDS = frozenset(
    """never no not nothing dont don't do does put me my mine i im i'm in into with within any anything
    content contents video videos clip clips scene scenes please avoid avoiding involving involve
    related relating to about the a an of or and appear appearing use using used show showing keep
    out want wanted be being featuring feature features allowed allow ok okay ever stuff thing things
    like topic topics theme themes kind kinds type types include including includes around near
    without zero whatsoever at all sort sorts genre genres material materials""".split()
)
_NEGATORS = frozenset({"no", "without", "non", "never", "not", "zero"})

# Known topics: the words that name them and a few example sentences for the semantic signal.
# Synonyms make "no horror" also catch "zombie"; exemplars make it catch "a haunted asylum at night".
_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "politics": (
        (
            "political",
            "politics",
            "politician",
            "election",
            "campaign",
            "rally",
            "senator",
            "congress",
            "parliament",
            "president",
            "presidential",
            "ballot",
            "vote",
            "voting",
            "protest",
            "democrat",
            "republican",
            "candidate",
            "government",
            "legislation",
            "partisan",
            "referendum",
        ),
        (
            "a political campaign rally",
            "a candidate giving an election speech",
            "people protesting a government policy",
            "a debate between politicians",
            "an ad asking people to vote for a party",
        ),
    ),
    "horror": (
        (
            "horror",
            "zombie",
            "ghost",
            "haunted",
            "slasher",
            "demon",
            "demonic",
            "possessed",
            "monster",
            "creepy",
            "scary",
            "terrifying",
            "vampire",
            "werewolf",
            "poltergeist",
            "exorcism",
        ),
        (
            "a terrifying horror movie scene",
            "a ghost haunting an abandoned house at night",
            "zombies chasing people",
            "a creepy monster hiding in the dark",
            "a frightening nightmare",
        ),
    ),
    "advertising": (
        (
            "ad",
            "ads",
            "advert",
            "advertisement",
            "advertising",
            "commercial",
            "sponsored",
            "sponsor",
            "promo",
            "promotion",
            "promotional",
            "endorse",
            "endorsement",
            "brand",
            "marketing",
            "product placement",
            "infomercial",
            "billboard",
            "testimonial",
        ),
        (
            "a TV commercial selling a product",
            "an advertisement for a brand",
            "a sponsored post promoting a company",
            "endorsing a product to customers",
            "a marketing video with a slogan and a discount offer",
        ),
    ),
    "alcohol": (
        (
            "alcohol",
            "alcoholic",
            "beer",
            "wine",
            "vodka",
            "whiskey",
            "whisky",
            "rum",
            "gin",
            "tequila",
            "cocktail",
            "champagne",
            "liquor",
            "booze",
            "drunk",
            "brewery",
            "pub",
            "bartender",
            "margarita",
            "hangover",
            "pint",
        ),
        (
            "drinking beer with friends",
            "a glass of red wine at dinner",
            "getting drunk at a party",
            "a bartender pouring cocktails",
            "a toast with champagne",
        ),
    ),
    "religion": (
        (
            "religion",
            "religious",
            "church",
            "mosque",
            "temple",
            "synagogue",
            "prayer",
            "pray",
            "praying",
            "priest",
            "imam",
            "rabbi",
            "bible",
            "quran",
            "worship",
            "sermon",
            "faith",
        ),
        ("people praying in a church", "a religious ceremony", "a priest giving a sermon", "worship at a temple"),
    ),
    "violence": (
        (
            "violence",
            "violent",
            "fight",
            "fighting",
            "gun",
            "guns",
            "weapon",
            "weapons",
            "shootout",
            "gunfire",
            "stabbing",
            "knife fight",
            "war",
            "murder",
            "assault",
            "brawl",
            "explosion",
        ),
        (
            "a violent fight with punches",
            "a shootout with guns",
            "a war scene with explosions",
            "someone attacking another person with a weapon",
        ),
    ),
    "smoking": (
        ("smoking", "cigarette", "cigarettes", "cigar", "vape", "vaping", "tobacco", "e-cigarette", "hookah"),
        ("smoking a cigarette", "vaping outside a club", "lighting a cigar"),
    ),
    "drugs": (
        (
            "drug",
            "drugs",
            "cocaine",
            "heroin",
            "marijuana",
            "weed",
            "cannabis",
            "meth",
            "ecstasy",
            "mdma",
            "lsd",
            "stoned",
            "overdose",
            "drug dealer",
        ),
        ("doing drugs at a party", "smoking weed", "a drug deal in an alley", "snorting cocaine"),
    ),
    "romance": (
        (
            "romance",
            "romantic",
            "kiss",
            "kissing",
            "dating",
            "date",
            "flirt",
            "flirting",
            "love scene",
            "sexual",
            "sexy",
            "making out",
            "boyfriend",
            "girlfriend",
            "wedding proposal",
            "intimate",
        ),
        ("a romantic date with candles", "two people kissing", "flirting with a stranger", "an intimate love scene"),
    ),
    "gambling": (
        (
            "gambling",
            "gamble",
            "casino",
            "poker",
            "betting",
            "bet",
            "slot machine",
            "roulette",
            "blackjack",
            "sportsbook",
            "lottery",
        ),
        ("playing poker at a casino", "betting money on a game", "pulling a slot machine lever"),
    ),
    "swimwear": (
        (
            "swimwear",
            "swimsuit",
            "bikini",
            "swimming trunks",
            "underwear",
            "lingerie",
            "shirtless",
            "topless",
            "revealing",
        ),
        ("wearing a bikini at the beach", "posing in underwear", "shirtless at the pool"),
    ),
}

# Ordinary prompts that define "typical" similarity for each restriction (none is in the dataset).
_BACKGROUND = (
    "walking a dog through a park in autumn",
    "cooking pasta in a small apartment kitchen",
    "riding a skateboard down a city street",
    "reading a newspaper on a train",
    "playing guitar on a porch at sunset",
    "a family picnic by a lake",
    "jogging along the beach at sunrise",
    "working on a laptop in a coffee shop",
    "painting a landscape on a canvas",
    "a child building a sandcastle",
    "gardening and planting tomatoes",
    "shopping at a farmers market",
    "doing laundry on a Sunday morning",
    "a cat sleeping on a windowsill",
    "hiking through a snowy forest",
    "fishing from a wooden dock",
    "taking photos of the city skyline at night",
    "a birthday party with balloons and cake",
    "swimming laps in an indoor pool",
    "studying for an exam at a desk",
    "feeding ducks at a pond",
    "driving across a desert highway",
    "dancing at a wedding reception",
    "a teacher explaining math on a chalkboard",
    "fixing a bicycle in a garage",
    "a street musician playing saxophone",
    "flying a kite on a windy hill",
    "baking bread at dawn",
    "sitting in traffic during rain",
    "eating ramen at a noodle bar",
    "playing video games with friends",
    "a doctor talking to a patient",
    "watching a football game on TV",
    "knitting a scarf by the fireplace",
    "a rocket launching into space",
    "surfing a big wave",
    "a chef plating a fancy dessert",
    "camping under the stars",
    "giving a presentation at work",
    "a horse running through a field",
)

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def _stem(word: str) -> str:
    """A deliberately small stemmer: plural, -ing, -ed, -al/-ic(s) so "politics"/"political" meet."""
    w = word.lower().replace("'s", "").replace("'", "")
    for suffix, keep in (("ically", 4), ("ical", 4), ("ics", 4), ("ic", 4), ("al", 5)):
        if w.endswith(suffix) and len(w) - len(suffix) >= keep:
            return w[: -len(suffix)]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ing") and len(w) > 5:
        w = w[:-3]
        return w[:-1] if len(w) > 3 and w[-1] == w[-2] else w  # "shopping" -> "shop"
    if w.endswith("ed") and len(w) > 4:
        w = w[:-2]
        return w[:-1] if len(w) > 3 and w[-1] == w[-2] else w
    if w.endswith(("sses", "ches", "shes", "xes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        return w[:-1]
    return w


def _stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


def _term_stems(term: str) -> tuple[str, ...]:
    return tuple(_stems(term))


# stem of any topic word -> topic name, so "political" and "election" both lead to "politics"
_STEM_TO_TOPIC: dict[str, str] = {}
for _name, (_words, _) in _TOPICS.items():
    for _w in _words + (_name,):
        stems = _term_stems(_w)
        if len(stems) == 1:
            _STEM_TO_TOPIC.setdefault(stems[0], _name)


@dataclass(frozen=True)
class Conflict:
    restriction: str  # the owner's restriction, verbatim
    reason: str  # readable by the requester
    score: float  # 1.0 for an exact term, else cosine similarity to the closest exemplar
    match: str  # "exact" or "semantic"
    zscore: float | None  # semantic only: similarity in standard deviations above everyday prompts
    evidence: str  # the matched term, or the exemplar the prompt was closest to


@dataclass(frozen=True)
class _ParsedRestriction:
    text: str
    topic_phrase: str
    terms: tuple[tuple[str, ...], ...]  # stemmed token sequences
    exemplars: tuple[str, ...]
    exemplar_vectors: np.ndarray[Any, Any]
    typical: float  # median best-exemplar similarity of the background prompts
    spread: float  # its standard deviation


def _validate_prompt(prompt: str) -> str:
    return checked_prompt(prompt, MAX_PROMPT_CHARS)


def prompt_chunks(prompt: str) -> list[str]:
    """The whole prompt plus its sentences, so one bad sentence in a long prompt is not diluted."""
    sentences = [s.strip() for s in _SENTENCE.split(prompt) if len(s.strip()) > 3]
    return [prompt] + (sentences[:8] if len(sentences) > 1 else [])


class RestrictionMatcher:
    """Thread-safe; caches each restriction's parsed terms and exemplar embeddings."""

    def __init__(self, semantic_threshold: float = SEMANTIC_THRESHOLD, cache_size: int = 10_000):
        self.semantic_threshold = semantic_threshold
        self._cache: dict[str, _ParsedRestriction] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load the embedding model now (seconds of CPU), so the first check
        that needs it does not pay for it while others wait."""
        _background_vectors()

    def check(self, prompt: str, restrictions: list[str]) -> list[Conflict]:
        """Every restriction the prompt conflicts with (empty list: no conflict)."""
        _validate_prompt(prompt)
        if len(restrictions) > MAX_RESTRICTIONS:
            raise ValueError(f"{len(restrictions)} restrictions; the limit is {MAX_RESTRICTIONS}")
        parsed = [self._parse(r) for r in restrictions]
        if not parsed:
            return []
        words = _WORD.findall(prompt.lower())
        stems = [_stem(w) for w in words]
        conflicts: list[Conflict] = []
        semantic_pending: list[_ParsedRestriction] = []
        for rule in parsed:
            term = _find_term(words, stems, rule.terms)
            if term is not None:
                conflicts.append(
                    Conflict(
                        restriction=rule.text,
                        reason=f'the prompt mentions "{term}", which the restriction "{rule.text}" rules out',
                        score=1.0,
                        match="exact",
                        zscore=None,
                        evidence=term,
                    )
                )
            else:
                semantic_pending.append(rule)
        if semantic_pending:
            # Only embed the prompt when no exact term settled every restriction.
            prompt_vectors = embed(prompt_chunks(prompt))
            for rule in semantic_pending:
                sims = prompt_vectors @ rule.exemplar_vectors.T
                best = float(sims.max())
                zscore = (best - rule.typical) / rule.spread
                if zscore >= self.semantic_threshold:
                    exemplar = rule.exemplars[int(sims.max(axis=0).argmax())]
                    conflicts.append(
                        Conflict(
                            restriction=rule.text,
                            reason=(
                                f'the prompt is about "{rule.topic_phrase}", which the restriction '
                                f'"{rule.text}" rules out (similarity {best:.2f} to "{exemplar}")'
                            ),
                            score=best,
                            match="semantic",
                            zscore=zscore,
                            evidence=exemplar,
                        )
                    )
        return conflicts

    def _parse(self, restriction: str) -> _ParsedRestriction:
        if not isinstance(restriction, str) or not restriction.strip():
            raise ValueError("a restriction is empty")
        if len(restriction) > MAX_RESTRICTION_CHARS:
            raise ValueError(f"a restriction is {len(restriction)} characters; the limit is {MAX_RESTRICTION_CHARS}")
        with self._lock:
            hit = self._cache.get(restriction)
        if hit is not None:
            return hit
        parsed = parse_restriction(restriction)
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))  # oldest first; restrictions rarely change
            self._cache[restriction] = parsed
        return parsed


def parse_restriction(restriction: str) -> _ParsedRestriction:
    words = [w for w in _WORD.findall(restriction.lower()) if w not in _FRAME_WORDS]
    if not words:
        raise ValueError(f'the restriction "{restriction}" names no topic (e.g. "no horror")')
    topic_phrase = " ".join(words)
    topics = sorted({_STEM_TO_TOPIC[s] for s in map(_stem, words) if s in _STEM_TO_TOPIC})
    terms = {_term_stems(w) for w in words if len(w) > 2 or w in _STEM_TO_TOPIC}
    if len(words) > 1:
        terms.add(_term_stems(topic_phrase))
    exemplars = [topic_phrase, f"a video about {topic_phrase}", f"a scene involving {topic_phrase}"]
    for topic in topics:
        synonyms, topic_exemplars = _TOPICS[topic]
        terms.update(_term_stems(s) for s in synonyms)
        exemplars.extend(topic_exemplars)
    terms.discard(())
    vectors = embed(exemplars)
    background = (_background_vectors() @ vectors.T).max(axis=1)
    return _ParsedRestriction(
        text=restriction,
        topic_phrase=topic_phrase,
        terms=tuple(sorted(terms)),
        exemplars=tuple(exemplars),
        exemplar_vectors=vectors,
        typical=float(np.median(background)),
        spread=max(float(background.std()), 1e-3),
    )


@lru_cache(maxsize=1)
def _background_vectors() -> np.ndarray[Any, Any]:
    return embed(list(_BACKGROUND))


def _find_term(words: list[str], stems: list[str], terms: tuple[tuple[str, ...], ...]) -> str | None:
    """The prompt's own words for the first restricted term found, or None."""
    for term in terms:
        n = len(term)
        for i in range(len(stems) - n + 1):
            if tuple(stems[i : i + n]) == term and not _negated(stems, i):
                return " ".join(words[i : i + n])
    return None


def _negated(stems: list[str], i: int) -> bool:
    """ "no alcohol", "without beer": the prompt excludes the topic rather than showing it."""
    return any(s in _NEGATORS for s in stems[max(0, i - 2) : i])
