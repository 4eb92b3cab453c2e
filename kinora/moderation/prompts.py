"""Prompt moderation before a generation is queued.

Categories, in order of precedence (the first that fires names the refusal):
  minor_sexual      sexual content involving minors: always blocked, checked first
  sexual            sexual content / nudity
  graphic_violence  gore, mutilation, torture
  self_harm         suicide, self-injury, eating-disorder promotion
  public_figure     a real, well-known person named in the prompt
Rules (word-boundary term lists) catch the explicit cases; an embedding classifier (nearest
exemplar per category, which must also beat the nearest benign exemplar) catches paraphrases.

Public figures: naming a listed person is refused unless that person is one of the generation's
cameos (`cameo_names`, the verified display names the cameo service returned after its consent
check). `has_cameo` alone never unlocks a name: a cameo of yourself does not let you depict
someone else. Pure domain code: no gRPC, no storage.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kinora.ml.embeddings import embed
from kinora.ml.text import checked_prompt

MAX_PROMPT_CHARS = 4000
CATEGORIES = ("minor_sexual", "sexual", "graphic_violence", "self_harm", "public_figure")
# Cosine similarity to the nearest category exemplar needed to block; tuned on the "tune" split
# of kinora/moderation/data/moderation_cases.jsonl with benchmarks/eval_moderation.py --sweep.
EMBEDDING_THRESHOLDS = {"minor_sexual": 0.48, "sexual": 0.48, "graphic_violence": 0.48, "self_harm": 0.48}

_REASONS = {
    "minor_sexual": "sexual content involving minors is never allowed",
    "sexual": "sexual content and nudity are not allowed",
    "graphic_violence": "graphic violence and gore are not allowed",
    "self_harm": "content depicting or encouraging suicide or self-harm is not allowed",
    "public_figure": "real public figures can only appear through their own verified cameo",
}


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


_MINOR = _rx(
    r"child(?:ren)?",
    r"kids?",
    r"minors?",
    r"underage",
    r"under-?aged?",
    r"preteens?",
    r"pre-teens?",
    r"teens?",
    r"teenagers?",
    r"toddlers?",
    r"infants?",
    r"bab(?:y|ies)",
    r"schoolgirls?",
    r"schoolboys?",
    r"little (?:girl|boy)s?",
    r"young (?:girl|boy)s?",
    r"(?:middle|elementary|primary) school\w*",
    r"loli",
    r"jailbait",
    r"(?:1[0-7]|[1-9])[- ]?(?:years?|yrs?)[- ]?old",
    r"(?:boy|girl)s? aged (?:1[0-7]|[1-9])",
)
_SEXUAL = _rx(
    r"nude",
    r"nudes",
    r"naked",
    r"nudity",
    r"sex",
    r"sexual(?:ly)?",
    r"sexy",
    r"erotic\w*",
    r"porn\w*",
    r"explicit",
    r"nsfw",
    r"undress\w*",
    r"stripper",
    r"striptease",
    r"strip(?:s|ping)? (?:naked|off|down)",
    r"topless",
    r"genitals?",
    r"genitalia",
    r"breasts?",
    r"nipples?",
    r"orgasm\w*",
    r"intercourse",
    r"masturbat\w*",
    r"fondl\w*",
    r"lewd",
    r"fetish\w*",
    r"xxx",
    r"onlyfans",
    r"make love",
    r"making love",
    r"having sex",
    r"seductive\w*",
    r"aroused",
    r"lingerie",
)
_VIOLENCE = _rx(
    r"gore",
    r"gory",
    r"gruesome",
    r"dismember\w*",
    r"decapitat\w*",
    r"behead\w*",
    r"disembowel\w*",
    r"eviscerat\w*",
    r"mutilat\w*",
    r"severed (?:head|limb|arm|leg|hand|finger)s?",
    r"entrails",
    r"(?:intestines|guts|organs) (?:spill\w*|hanging|everywhere)",
    r"brains? (?:splatter\w*|blown out)",
    r"blood (?:spurt\w*|gush\w*|splatter\w*|soaked)",
    r"tortur\w*",
    r"flay\w*",
    r"skinned alive",
    r"burned alive",
    r"massacr\w*",
    r"shot in the head",
    r"slit (?:his|her|their|a man's|a woman's) throat",
)
_SELF_HARM = _rx(
    r"suicid\w*",
    r"kill(?:s|ing)? (?:myself|yourself|himself|herself|themselves)",
    r"end(?:s|ing)? (?:my|his|her|their) (?:own )?life",
    r"self[- ]harm\w*",
    r"self[- ]injur\w*",
    r"(?:cut|cuts|cutting|slit|slits|slitting) (?:my|his|her|their) wrists?",
    r"hang(?:s|ing)? (?:myself|yourself|himself|herself|themselves)",
    r"overdos\w*",
    r"starv\w* (?:myself|himself|herself|themselves)",
    r"pro-?ana",
    r"thinspo\w*",
)
# Mentions that name a category's words without being it.
_SELF_HARM_SAFE = _rx(r"suicide (?:prevention|awareness|hotline|helpline|squad)", r"overdose (?:prevention|awareness)")

# Well-known living (or very recently living) people; full names, plus surnames distinctive
# enough to mean one person. Lower-case, accents removed.
_PUBLIC_FIGURES = (
    "donald trump",
    "joe biden",
    "barack obama",
    "michelle obama",
    "kamala harris",
    "hillary clinton",
    "bill clinton",
    "george w bush",
    "jd vance",
    "nancy pelosi",
    "bernie sanders",
    "alexandria ocasio-cortez",
    "ron desantis",
    "vladimir putin",
    "volodymyr zelensky",
    "xi jinping",
    "narendra modi",
    "emmanuel macron",
    "angela merkel",
    "olaf scholz",
    "justin trudeau",
    "rishi sunak",
    "keir starmer",
    "boris johnson",
    "king charles",
    "prince william",
    "prince harry",
    "kate middleton",
    "meghan markle",
    "pope francis",
    "pope leo",
    "benjamin netanyahu",
    "recep tayyip erdogan",
    "kim jong un",
    "jair bolsonaro",
    "lula da silva",
    "elon musk",
    "mark zuckerberg",
    "jeff bezos",
    "bill gates",
    "tim cook",
    "sam altman",
    "warren buffett",
    "jensen huang",
    "sundar pichai",
    "satya nadella",
    "taylor swift",
    "beyonce",
    "rihanna",
    "kanye west",
    "kim kardashian",
    "kylie jenner",
    "oprah winfrey",
    "oprah",
    "lady gaga",
    "ariana grande",
    "justin bieber",
    "selena gomez",
    "billie eilish",
    "eminem",
    "snoop dogg",
    "jay-z",
    "ed sheeran",
    "adele",
    "harry styles",
    "dua lipa",
    "bad bunny",
    "shakira",
    "tom cruise",
    "tom hanks",
    "brad pitt",
    "angelina jolie",
    "leonardo dicaprio",
    "scarlett johansson",
    "jennifer lawrence",
    "jennifer aniston",
    "dwayne johnson",
    "keanu reeves",
    "will smith",
    "zendaya",
    "timothee chalamet",
    "margot robbie",
    "ryan reynolds",
    "morgan freeman",
    "robert downey jr",
    "emma watson",
    "johnny depp",
    "denzel washington",
    "meryl streep",
    "lebron james",
    "cristiano ronaldo",
    "lionel messi",
    "serena williams",
    "roger federer",
    "tom brady",
    "stephen curry",
    "michael jordan",
    "usain bolt",
    "simone biles",
    "tiger woods",
    "neymar",
    "kylian mbappe",
    "mrbeast",
    "joe rogan",
    "greta thunberg",
    "malala yousafzai",
    "dalai lama",
    "obama",
    "biden",
    "putin",
    "zelensky",
    "zuckerberg",
    "kardashian",
    "macron",
    "merkel",
    "trudeau",
    "netanyahu",
    "bezos",
    "dicaprio",
)
_FIGURES = re.compile(r"\b(?:" + "|".join(re.escape(n) for n in _PUBLIC_FIGURES) + r")\b")
# "trump" alone is a common word ("a trump card"), so only the surname in a person-like context.
_TRUMP = re.compile(r"\btrump\b(?! cards?| suit)")
# Office titles followed by a capitalised name ("Senator Warren") name a real official.
_TITLED = re.compile(
    r"\b(?:President|Senator|Sen\.|Governor|Gov\.|Prime Minister|Chancellor|Congressman|Congresswoman|"
    r"Rep\.|Vice President|Secretary of State|Supreme Court Justice|Justice)\s+[A-Z][a-z]+"
)
_SITTING = _rx(
    r"the (?:current|sitting) (?:us |u\.s\. |american |french |british |russian |chinese )?"
    r"(?:president|prime minister|chancellor|pope)",
    r"the president of (?:the united states|france|russia|china|ukraine)",
)

# Embedding exemplars: short, clinical descriptions of each category, and everyday scenes that
# share words with them (sports, cooking, art, medicine) as the benign side.
_EXEMPLARS = {
    "minor_sexual": (
        "a sexual scene involving a child",
        "a naked child posing",
        "a minor in a sexually explicit video",
        "an adult touching a child sexually",
        "a young teenager undressing for the camera",
        "erotic photos of an underage girl",
        "a kid in a pornographic scene",
    ),
    "sexual": (
        "two people having sex",
        "a naked woman posing",
        "a pornographic video",
        "an erotic striptease",
        "a man exposing his genitals",
        "explicit sexual intercourse in a bedroom",
        "a nude photo shoot",
        "people performing sexual acts",
        "a woman taking off all her clothes seductively",
    ),
    "graphic_violence": (
        "a man being decapitated with blood everywhere",
        "a gory scene of a body torn apart",
        "torturing a prisoner until he bleeds",
        "a person's guts spilling out after being stabbed",
        "a massacre with mutilated corpses",
        "a close-up of a bloody gunshot wound to the head",
        "skinning a person alive",
        "a brutal beating leaving a man's face smashed and bleeding",
    ),
    "self_harm": (
        "a person committing suicide",
        "someone cutting their wrists with a razor",
        "a teenager hanging herself",
        "a man jumping off a bridge to kill himself",
        "swallowing a bottle of pills to die",
        "a girl starving herself to be thin",
        "someone hurting themselves on purpose",
        "a suicide note and a noose",
    ),
}
_BENIGN = (
    "a basketball player shoots the ball",
    "a chef cuts vegetables in a kitchen",
    "a painting of a historical battle",
    "a boxing match in a ring",
    "a knight in armor on horseback",
    "an action movie car chase with explosions",
    "a doctor stitching a wound in a hospital",
    "a mother bathing her baby",
    "children playing at a playground",
    "a family at the beach in swimsuits",
    "a romantic couple holding hands at sunset",
    "a fashion model on a runway",
    "a classical marble statue",
    "a hunter in the forest with a rifle",
    "a butcher cutting meat",
    "a zombie costume at halloween",
    "a sad person crying alone in the rain",
    "a person meditating to feel better",
    "a suicide prevention hotline advertisement",
    "a nurse giving a vaccine",
    "a teen skateboarding",
    "a ballet dancer stretching",
    "a war memorial with soldiers saluting",
    "a magician sawing a box in half",
    "a person sleeping in bed",
    "a yoga class",
    "a couple dancing at their wedding",
    "a video game with cartoon fighting",
    "a crime drama detective at a crime scene",
    "a medieval sword fight reenactment",
    "a surgeon in an operating room",
    "kids in a school play",
)


@dataclass(frozen=True)
class ModerationResult:
    allowed: bool
    category: str | None  # one of CATEGORIES when refused
    reason: str  # readable by the person who wrote the prompt
    method: str | None = None  # "rule" or "embedding" when refused
    score: float | None = None  # embedding similarity when method is "embedding"


_ALLOWED = ModerationResult(allowed=True, category=None, reason="allowed")


def _normalize(text: str) -> str:
    """Lower-case, accents removed, runs of whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.lower()).strip()


def _block(category: str, detail: str, method: str, score: float | None = None) -> ModerationResult:
    return ModerationResult(False, category, f"{_REASONS[category]} ({detail})", method, score)


class Moderator:
    """Thread-safe after construction; exemplar embeddings are computed once per process."""

    def __init__(self, thresholds: dict[str, float] | None = None):
        self.thresholds = dict(EMBEDDING_THRESHOLDS if thresholds is None else thresholds)

    def check(self, prompt: str, has_cameo: bool = False, cameo_names: Collection[str] = ()) -> ModerationResult:
        text = _normalize(checked_prompt(prompt, MAX_PROMPT_CHARS))

        minor = _MINOR.search(text)
        sexual = _SEXUAL.search(text)
        if minor and sexual:
            return _block("minor_sexual", f'"{minor.group()}" with "{sexual.group()}"', "rule")

        scores = self.category_scores(prompt)
        # Embedding alone says "minor" only when it is nearer the minor exemplars than the adult ones.
        if (
            scores["minor_sexual"] >= self.thresholds["minor_sexual"] and scores["minor_sexual"] > scores["sexual"]
        ) or (minor and scores["sexual"] >= self.thresholds["sexual"] and scores["sexual"] == max(scores.values())):
            score = max(scores["minor_sexual"], scores["sexual"])
            return _block("minor_sexual", "the prompt describes a minor in a sexual way", "embedding", score)
        if sexual:
            return _block("sexual", f'"{sexual.group()}"', "rule")
        violence = _VIOLENCE.search(text)
        if violence:
            return _block("graphic_violence", f'"{violence.group()}"', "rule")
        harm = _SELF_HARM.search(text)
        if harm and not _SELF_HARM_SAFE.search(text):
            return _block("self_harm", f'"{harm.group()}"', "rule")
        for category in ("sexual", "graphic_violence", "self_harm"):
            if scores[category] >= self.thresholds[category]:
                return _block(category, "the prompt describes it", "embedding", scores[category])

        figure = self._public_figure(prompt, text, has_cameo, cameo_names)
        if figure:
            return _block("public_figure", f'"{figure}" is named and is not one of this video\'s cameos', "rule")
        return _ALLOWED

    def category_scores(self, prompt: str) -> dict[str, float]:
        """Per category: similarity to its nearest exemplar, or 0 when a benign exemplar is nearer."""
        vectors = embed(_chunks(prompt))
        category_vectors, benign_vectors = _exemplar_vectors()
        benign = float((vectors @ benign_vectors.T).max())
        scores = {}
        for category, exemplar_vectors in category_vectors.items():
            best = float((vectors @ exemplar_vectors.T).max())
            scores[category] = best if best > benign else 0.0
        return scores

    @staticmethod
    def _public_figure(prompt: str, text: str, has_cameo: bool, cameo_names: Collection[str]) -> str | None:
        allowed = {_normalize(n) for n in cameo_names} if has_cameo else set()
        for match in _FIGURES.finditer(text):
            name = match.group()
            if not any(name in cameo for cameo in allowed):
                return name
        for found in (_TRUMP.search(text), _SITTING.search(text), _TITLED.search(prompt)):
            if found and not any(_normalize(found.group()) in c or c in _normalize(found.group()) for c in allowed):
                return found.group()
        return None


def _chunks(prompt: str) -> list[str]:
    """The whole prompt plus its sentences, so one bad sentence in a long prompt is not diluted."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;])\s+|\n+", prompt) if len(s.strip()) > 3]
    return [prompt] + (sentences[:8] if len(sentences) > 1 else [])


@lru_cache(maxsize=1)
def _exemplar_vectors() -> tuple[dict[str, np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    return {c: embed(list(e)) for c, e in _EXEMPLARS.items()}, embed(list(_BENIGN))
