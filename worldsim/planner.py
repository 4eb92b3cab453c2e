"""Prompt -> scene plan (JSON), with a real sentence-embedding model.

Every content word (and two-word phrase) of the prompt is embedded and compared with
the synonyms of each concept in `concepts.py`; a close enough match is "understood",
anything else is reported as not understood. The whole prompt is also compared with
the setting descriptions so "a player misses a three-pointer" lands on a court even
without the word "court". Random choices (colours, placement, voices) come from the
seed only, so one prompt and seed always give the same plan.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
from functools import lru_cache

import numpy as np

from kinora.ml.embeddings import embed
from worldsim import concepts as C

WORD_MATCH = 0.6  # single word vs a concept synonym
PHRASE_MATCH = 0.9  # two-word phrase must be a near-exact concept name
PLAN_VERSION = 1
GENERIC_BALL_BY_SETTING = {
    "basketball_court": "basketball",
    "beach": "beach_ball",
    "park": "soccer_ball",
    "snow_slope": "snowball",
    "pool": "beach_ball",
    "living_room": "tennis_ball",
    "city_street": "soccer_ball",
    "space": "rock",
}

_CATEGORIES = {
    "entity": {k: v["text"] for k, v in C.ENTITIES.items()} | {"ball": "ball"},
    "setting": (
        {k: v["text"] for k, v in C.SETTINGS.items()}
        | {"basketball_court": C.SETTINGS["basketball_court"]["text"] + " backboard rim"}
    ),
    "style": C.STYLES,
    "time": C.TIMES_OF_DAY,
    "weather": C.WEATHER,
    "camera": C.CAMERA_MOVES,
    "action": C.ACTIONS,
}


@lru_cache(maxsize=1)
def _synonym_index():
    """All concept synonyms embedded once: (vectors, [(category, concept, synonym)])."""
    rows = []
    for category, table in _CATEGORIES.items():
        for concept, text in table.items():
            words = text.split()
            synonyms = set(words) | {concept.replace("_", " ")}
            # keep well-known two-word names together ("soccer ball", "living room")
            synonyms |= {" ".join(words[i : i + 2]) for i in range(len(words) - 1)}
            if category == "entity" and concept != "ball":
                synonyms.discard("ball")  # a bare "ball" is resolved by the setting
            for synonym in sorted(synonyms):
                rows.append((category, concept, synonym))
    vectors = embed([r[2] for r in rows])
    return vectors, rows


@lru_cache(maxsize=1)
def _setting_index():
    names = list(C.SETTINGS)
    return names, embed([f"a scene at a {n.replace('_', ' ')}: {C.SETTINGS[n]['text']}" for n in names])


def _tokens(text: str) -> list[tuple[str, int]]:
    return [(m.group(0).lower(), m.start()) for m in re.finditer(r"[A-Za-z0-9@][A-Za-z0-9'\-]*", text)]


def _match(phrases: list[str]) -> list[tuple[str, str, float]]:
    """Best (category, concept, score) for each phrase."""
    if not phrases:
        return []
    vectors, rows = _synonym_index()
    scores = embed(phrases) @ vectors.T
    best = scores.argmax(axis=1)
    return [(rows[j][0], rows[j][1], float(scores[i, j])) for i, j in enumerate(best)]


def _rng(prompt: str, seed: int, salt: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{salt}|{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def parse_prompt(prompt: str) -> dict:
    """Understand a prompt: matched concepts in prompt order, dialogue, leftovers."""
    # "black and white" is one idea (the style), not two colour words
    prompt = re.sub(r"\bblack[\s-]+(?:and|&)[\s-]+white\b", "monochrome", prompt, flags=re.I)
    dialogue = [m.group(1).strip() for m in re.finditer(r"[\"“”]([^\"“”]+)[\"“”]", prompt)]
    bare = re.sub(r"[\"“”][^\"“”]*[\"“”]", " ", prompt)
    tokens = [(w, pos) for w, pos in _tokens(bare)]
    content = [
        i for i, (w, _) in enumerate(tokens) if w not in C.STOPWORDS and w not in C.NUMBER_WORDS and not w.isdigit()
    ]
    mentions: list[dict] = []
    used: set[int] = set()
    pairs = [(a, b) for a, b in zip(content, content[1:]) if b == a + 1]
    for (a, b), (category, concept, score) in zip(pairs, _match([f"{tokens[a][0]} {tokens[b][0]}" for a, b in pairs])):
        if score >= PHRASE_MATCH and a not in used and b not in used:
            used |= {a, b}
            mentions.append(
                {
                    "text": f"{tokens[a][0]} {tokens[b][0]}",
                    "category": category,
                    "concept": concept,
                    "score": round(score, 3),
                    "index": a,
                }
            )
    singles = [i for i in content if i not in used]
    leftovers = []
    for i, (category, concept, score) in zip(singles, _match([tokens[i][0] for i in singles])):
        if tokens[i][0].startswith("@"):
            mentions.append(
                {"text": tokens[i][0], "category": "cameo", "concept": tokens[i][0][1:], "score": 1.0, "index": i}
            )
        elif score >= WORD_MATCH:
            mentions.append(
                {"text": tokens[i][0], "category": category, "concept": concept, "score": round(score, 3), "index": i}
            )
        else:
            leftovers.append(tokens[i][0])
    mentions.sort(key=lambda m: m["index"])
    for m in mentions:  # how many: "two dogs", "3 balls"
        before = tokens[m["index"] - 1][0] if m["index"] > 0 else ""
        m["count"] = C.NUMBER_WORDS.get(before, int(before) if before.isdigit() and 0 < int(before) < 6 else 1)
        # "a dog ... the dog" is one dog; only "a/an/another/two..." introduces another
        m["new"] = before in ("a", "an", "another") or m["count"] > 1
    return {"mentions": mentions, "dialogue": dialogue, "not_understood": list(dict.fromkeys(leftovers))}


def _pick_setting(prompt: str, mentions: list[dict]) -> tuple[str, float, str]:
    named = [m for m in mentions if m["category"] == "setting"]
    if named:  # the surest match wins; a two-word name beats a single cue word
        best = max(named, key=lambda m: (m["score"], len(m["text"].split())))
        return best["concept"], best["score"], "named"
    names, vectors = _setting_index()
    scores = vectors @ embed([prompt])[0]
    j = int(np.argmax(scores))
    return names[j], round(float(scores[j]), 3), "inferred"


def _first(mentions: list[dict], category: str, default: str) -> str:
    return next((m["concept"] for m in mentions if m["category"] == category), default)


def _entity(kind: str, rng: random.Random, index: int) -> dict:
    spec = C.ENTITIES[kind]
    base = np.array(spec["color"])
    jitter = np.array([rng.uniform(-0.08, 0.08) for _ in range(3)])
    return {
        "id": f"e{index}",
        "kind": kind,
        "category": spec["category"],
        "color": [round(float(v), 3) for v in np.clip(base + jitter, 0, 1)],
        "actions": [],
    }


def _voice_for(entity: dict, rng: random.Random) -> dict:
    low = entity["kind"] in ("robot", "bear")
    pitch = rng.uniform(85, 135) if low or rng.random() < 0.5 else rng.uniform(170, 250)
    if entity["kind"] == "child":
        pitch = rng.uniform(250, 320)
    return {
        "pitch_hz": round(pitch, 1),
        "envelope": [round(rng.uniform(0.3, 1.0), 3) for _ in range(6)],
        "from_cameo": False,
    }


def plan_scene(
    prompt: str, seed: int, seconds: int, width: int, height: int, cameos: list | None = None, has_image: bool = False
) -> dict:
    """Build the full scene plan for one prompt."""
    parsed = parse_prompt(prompt)
    mentions = parsed["mentions"]
    rng = _rng(prompt, seed, "plan")
    setting, setting_score, setting_how = _pick_setting(prompt, mentions)

    entities: list[dict] = []
    understood = [{"text": m["text"], "as": f"{m['category']}:{m['concept']}", "score": m["score"]} for m in mentions]
    for m in mentions:
        if m["category"] != "entity":
            continue
        kind = m["concept"]
        if kind == "ball":
            kind = GENERIC_BALL_BY_SETTING.get(setting, "soccer_ball")
        if not m["new"] and any(e["kind"] == kind for e in entities):
            continue
        for _ in range(m["count"]):
            entities.append(_entity(kind, rng, len(entities) + 1))
    plan = {
        "version": PLAN_VERSION,
        "prompt": prompt,
        "seed": seed,
        "seconds": seconds,
        "size": [width, height],
        "setting": setting,
        "setting_match": {"how": setting_how, "score": setting_score},
        "style": _first(mentions, "style", "realistic"),
        "time_of_day": _first(mentions, "time", "day"),
        "weather": _first(mentions, "weather", "clear"),
        "camera": _first(mentions, "camera", "static"),
        "actions": sorted({m["concept"] for m in mentions if m["category"] == "action"}),
        "entities": entities,
        "dialogue": [],
        "image_plate": has_image,
        "understood": understood,
        "not_understood": parsed["not_understood"],
        "added": [],
    }
    _complete(plan, parsed["dialogue"], cameos or [], rng)
    return plan


def _complete(plan: dict, quotes: list[str], cameos: list, rng: random.Random) -> None:
    """Fill what the prompt left open so the scene is playable, and say so in `added`."""
    entities = plan["entities"]
    actors = [e for e in entities if e["category"] == "character"]
    # Cameos take the first characters; add people for cameos the prompt didn't cast.
    for cameo in cameos:
        if not any(e.get("cameo") is None for e in actors):
            extra = _entity("person", rng, len(entities) + 1)
            entities.append(extra)
            actors.append(extra)
            plan["added"].append(f"person for cameo {cameo['name']}")
        target = next(e for e in actors if e.get("cameo") is None)
        target["cameo"] = cameo["name"]
        if cameo.get("voice"):
            target["voice"] = {
                "pitch_hz": cameo["voice"]["pitch_hz"],
                "envelope": list(cameo["voice"].get("envelope") or []),
                "from_cameo": True,
            }
    if (
        plan["setting"] == "basketball_court"
        and not any(e["kind"] == "basketball" for e in entities)
        and ({"shoot", "miss", "make"} & set(plan["actions"]))
    ):
        entities.append(_entity("basketball", rng, len(entities) + 1))
        plan["added"].append("basketball (a shot needs a ball)")
    if quotes and not actors:
        extra = _entity("person", rng, len(entities) + 1)
        entities.append(extra)
        actors.append(extra)
        plan["added"].append("person to speak the dialogue")
    if not entities:
        extra = _entity("person", rng, 1)
        entities.append(extra)
        actors.append(extra)
        plan["added"].append("person (the prompt named nobody)")
    for e in entities:
        if e["category"] in ("character", "animal") and "voice" not in e and e["category"] == "character":
            e["voice"] = _voice_for(e, rng)
    speakers = actors or [e for e in entities if e["category"] == "animal"]
    plan["dialogue"] = (
        [{"speaker": speakers[i % len(speakers)]["id"], "text": q} for i, q in enumerate(quotes)] if speakers else []
    )
    # Re-number so ids follow list order after additions.
    for i, e in enumerate(entities):
        e["id"] = f"e{i + 1}" if "id" not in e else e["id"]


def remix_plan(
    parent: dict, prompt: str, seed: int, seconds: int, width: int, height: int, cameos: list | None = None
) -> dict:
    """Edit a parent's plan with an instruction prompt ("make it night", "replace the ball with a watermelon")."""
    if not isinstance(parent, dict) or "entities" not in parent or "setting" not in parent:
        from kinora.models.contract import ModelInputError

        raise ModelInputError("remix_plan is not a worldsim plan (needs 'setting' and 'entities')")
    plan = copy.deepcopy(parent)
    rng = _rng(prompt, seed, "remix")
    edits: list[str] = []
    text = prompt.strip()
    swap = re.search(
        r"(?:replace|swap)\s+(?:the\s+|a\s+)?(.+?)\s+(?:with|for)\s+(?:a\s+|an\s+|the\s+)?(.+?)(?:[.,;]|$)", text, re.I
    ) or re.search(r"(?:turn|change)\s+(?:the\s+)?(.+?)\s+into\s+(?:a\s+|an\s+)?(.+?)(?:[.,;]|$)", text, re.I)
    handled = ""
    if swap:
        old_kind = _entity_kind(swap.group(1), plan["setting"])
        new_kind = _entity_kind(swap.group(2), plan["setting"])
        handled = swap.group(0)
        victims = [e for e in plan["entities"] if e["kind"] == old_kind] or [
            e
            for e in plan["entities"]
            if old_kind and C.ENTITIES[e["kind"]]["category"] == C.ENTITIES[old_kind]["category"]
        ]
        if victims and new_kind:
            for e in victims:
                fresh = _entity(new_kind, rng, 0)
                e.update(kind=new_kind, category=fresh["category"], color=fresh["color"])
            edits.append(f"replaced {old_kind} with {new_kind}")
    removal = re.search(r"remove\s+(?:the\s+)?(.+?)(?:[.,;]|$)", text, re.I)
    if removal:
        kind = _entity_kind(removal.group(1), plan["setting"])
        before = len(plan["entities"])
        plan["entities"] = [e for e in plan["entities"] if e["kind"] != kind]
        if len(plan["entities"]) < before:
            edits.append(f"removed {kind}")
        handled += " " + removal.group(0)
    rest = text.replace(handled.strip(), " ") if handled.strip() else text
    for part in (removal.group(0),) if removal else ():
        rest = rest.replace(part, " ")
    parsed = parse_prompt(rest)
    for m in parsed["mentions"]:
        key = {
            "setting": "setting",
            "style": "style",
            "time": "time_of_day",
            "weather": "weather",
            "camera": "camera",
        }.get(m["category"])
        if key and plan.get(key) != m["concept"]:
            plan[key] = m["concept"]
            edits.append(f"{key} -> {m['concept']}")
        elif m["category"] == "action" and m["concept"] not in plan["actions"]:
            plan["actions"] = sorted(set(plan["actions"]) | {m["concept"]})
            edits.append(f"action + {m['concept']}")
        elif m["category"] == "entity":
            kind = m["concept"]
            if kind == "ball":
                kind = GENERIC_BALL_BY_SETTING.get(plan["setting"], "soccer_ball")
            if not any(e["kind"] == kind for e in plan["entities"]):
                entity = _entity(kind, rng, 0)
                if entity["category"] == "character":
                    entity["voice"] = _voice_for(entity, rng)
                plan["entities"].append(entity)
                edits.append(f"added {kind}")
    if parsed["dialogue"]:
        speakers = [e for e in plan["entities"] if e["category"] == "character"]
        if speakers:
            plan["dialogue"] = [
                {"speaker": speakers[i % len(speakers)]["id"], "text": q} for i, q in enumerate(parsed["dialogue"])
            ]
            edits.append("dialogue replaced")
    for i, e in enumerate(plan["entities"]):
        e["id"] = f"e{i + 1}" if not e.get("id") or e["id"] == "e0" else e["id"]
    ids = [e["id"] for e in plan["entities"]]
    if len(set(ids)) != len(ids):  # additions may collide with old ids
        remap = {}
        for i, e in enumerate(plan["entities"]):
            remap.setdefault(e["id"], f"e{i + 1}")
            e["id"] = f"e{i + 1}"
        plan["dialogue"] = [d for d in plan["dialogue"] if d["speaker"] in remap] if plan["dialogue"] else []
    plan.update(seed=seed, seconds=seconds, size=[width, height])
    plan["remix"] = {
        "parent_prompt": parent.get("prompt", ""),
        "instruction": prompt,
        "edits": edits,
        "not_understood": parsed["not_understood"],
    }
    plan["prompt"] = f"{parent.get('prompt', '')} | remix: {prompt}"
    return plan


def _entity_kind(phrase: str, setting: str) -> str | None:
    words = [w for w, _ in _tokens(phrase) if w not in C.STOPWORDS]
    if not words:
        return None
    candidates = [" ".join(words)] + words
    for category, concept, score in _match(candidates):
        if category == "entity" and score >= WORD_MATCH:
            return GENERIC_BALL_BY_SETTING.get(setting, "soccer_ball") if concept == "ball" else concept
    return None
