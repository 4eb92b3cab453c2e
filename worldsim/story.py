"""Plans made from other plans: the shots of a storyboard, an extension of a finished clip and
an edit of one ("make it night", "add rain", "in anime style", "remove the cat").

A storyboard is one world filmed in several shots: the first shot is planned from its prompt
like any clip, every later shot continues the plan before it (`continue_plan`): the cast (ids,
colours, sizes, voices, cameos) stays, the shot's prompt may add entities and actions, and the
setting, style, time of day and weather change only when the prompt names new ones. An
extension continues a finished clip's last plan the same way. An edit applies an instruction to
a plan and keeps everything else, seed included; an instruction worldsim cannot read is refused.
"""

from __future__ import annotations

import copy
import re

from kinora.models.contract import ModelInputError
from worldsim import concepts as C
from worldsim.planner import GENERIC_BALL_BY_SETTING, _entity, _entity_kind, _first, _rng, _voice_for, parse_prompt

# The contract's camera hints -> worldsim's camera moves.
SHOT_CAMERA = {
    "static": "static",
    "pan_left": "pan_left",
    "pan_right": "pan_right",
    "push_in": "dolly_in",
    "pull_out": "dolly_out",
    "tilt_up": "tilt_up",
    "tilt_down": "tilt_down",
}
# Ongoing motion carries on into the next shot or extension unless its prompt names other actions.
MOTION_ACTIONS = {"walk", "run", "jump", "dance", "drive"}
# Keys that describe how one clip was made, not the world: never copied into a following plan.
_OWN_KEYS = (
    "shots",
    "storyboard",
    "resume",
    "remix",
    "edit",
    "shot",
    "view_h",
    "reframe",
    "extension",
    "layout",
    "run_on",
    "run_on_s",
)
REFRAME = 0.12  # after a cut in the same place, the camera moves this share of the view sideways


def continue_plan(previous: dict, prompt: str, seconds: int, width: int, height: int, salt: int) -> dict:
    """The next part of `previous`'s world, with what `prompt` adds or changes."""
    parsed = parse_prompt(prompt)
    mentions = parsed["mentions"]
    plan = {key: copy.deepcopy(value) for key, value in previous.items() if key not in _OWN_KEYS}
    rng = _rng(prompt, int(previous["seed"]), f"continue{salt}")
    named = [m for m in mentions if m["category"] == "setting"]
    if named:  # only a setting the prompt names moves the world; an inferred one does not
        best = max(named, key=lambda m: (m["score"], len(m["text"].split())))
        plan["setting"] = best["concept"]
        plan["setting_match"] = {"how": "named", "score": best["score"]}
    for key, category in (("style", "style"), ("time_of_day", "time"), ("weather", "weather")):
        plan[key] = _first(mentions, category, plan[key])
    plan["camera"] = _first(mentions, "camera", "static")
    actions = {m["concept"] for m in mentions if m["category"] == "action"}
    plan["actions"] = sorted(actions or (set(previous.get("actions", [])) & MOTION_ACTIONS))
    entities = plan["entities"]
    added = []
    for m in mentions:
        if m["category"] != "entity":
            continue
        kind = GENERIC_BALL_BY_SETTING.get(plan["setting"], "soccer_ball") if m["concept"] == "ball" else m["concept"]
        have = sum(1 for e in entities if e["kind"] == kind)
        for _ in range(max(0, (m["count"] if m["new"] else 1) - have)):
            entity = _entity(kind, rng, _next_id(entities))
            if entity["category"] == "character":
                entity["voice"] = _voice_for(entity, rng)
            entities.append(entity)
            added.append(f"{kind} (named in this part)")
    mentioned = {m["concept"] for m in mentions if m["category"] == "entity"}
    speakers = (
        [e for e in entities if e["category"] == "character" and e["kind"] in mentioned]
        or [e for e in entities if e["category"] == "character"]
        or [e for e in entities if e["category"] == "animal"]
    )
    plan["dialogue"] = (
        [{"speaker": speakers[i % len(speakers)]["id"], "text": q} for i, q in enumerate(parsed["dialogue"])]
        if speakers
        else []
    )
    plan.update(
        prompt=prompt,
        seconds=seconds,
        size=[width, height],
        added=added,
        rng_salt=salt,
        understood=[
            {"text": m["text"], "as": f"{m['category']}:{m['concept']}", "score": m["score"]} for m in mentions
        ],
        not_understood=parsed["not_understood"],
    )
    return plan


def _next_id(entities: list[dict]) -> int:
    numbers = [int(e["id"][1:]) for e in entities if e["id"][:1] == "e" and e["id"][1:].isdigit()]
    return max(numbers, default=0) + 1


def storyboard_plan(shot_plans: list[dict], title: str, seed: int, width: int, height: int) -> dict:
    """The report's plan for a storyboard: its shots' plans, and the last shot's world on top (so a
    remix, an edit or an extension can read it like any plan)."""
    last = shot_plans[-1]
    entities: dict[str, dict] = {}
    for plan in shot_plans:
        for e in plan["entities"]:
            entities.setdefault(e["id"], e)
    return {
        **{key: copy.deepcopy(value) for key, value in last.items() if key not in _OWN_KEYS},
        "prompt": title,
        "seed": seed,
        "seconds": sum(p["seconds"] for p in shot_plans),
        "size": [width, height],
        "entities": copy.deepcopy(list(entities.values())),
        "storyboard": True,
        "shots": shot_plans,
    }


# ------------------------------------------------------------------ edits

EDIT_HELP = (
    'worldsim edits understand: the time of day ("make it night", "at sunset", "at dawn"), '
    'the weather ("add rain", "make it snow", "foggy", "clear sky"), the style ("in anime style", '
    '"watercolor", "black and white", "cinematic", "realistic"), the setting ("on the beach"), '
    'the camera move ("pan left", "zoom in"), an action ("make them dance"), adding or removing a '
    'person, animal or thing ("add a dog", "remove the cat") and swapping one for another '
    '("replace the ball with a watermelon")'
)
# Words an instruction may use around what it changes.
_FILLER = set(
    """make makes made turn change set let please more less instead everything scene clip video whole
    thing look looks style styled version now also same but keep give show bit little slightly feel mood appear
    become have has add put render do its all like as look-like lot much""".split()
)
_LEAD = re.compile(
    r"^(?:please\s+)?(?:make|turn|change|set|render|give|show|put|add|do)\b"
    r"(?:\s+(?:it|everything|this|the\s+(?:scene|clip|video|whole\s+thing)))?"
    r"(?:\s+(?:to|into|in|at|an?|the))?\s*",
    re.I,
)
_WEATHER_WORDS = [
    ("rain", r"rain\w*|storm\w*|downpour|drizzl\w*"),
    ("snow", r"snow|snowing|snowy|snowfall|blizzard"),
    ("fog", r"fog\w*|mist\w*|haz[ey]"),
    ("cloudy", r"cloud\w*|overcast"),
    ("clear", r"clear(?:\s+sky)?"),
]
# a place's name, even where a thing shares the word ("beach" ball); not "basketball" or "snow"
_SETTING_WORDS = {
    name.split("_")[0]: name for name in C.SETTINGS if name.split("_")[0] not in ("basketball", "snow")
} | {name.replace("_", " "): name for name in C.SETTINGS}
_REMOVE = re.compile(
    r"^(?:remove|delete|take\s+out|get\s+rid\s+of|drop|without|no\s+more|no)\s+"
    r"(?:all\s+)?(?:the\s+|a\s+|an\s+|of\s+the\s+)?(.+)$",
    re.I,
)
_SWAP = re.compile(
    r"^(?:replace|swap)\s+(?:the\s+|a\s+)?(.+?)\s+(?:with|for|by)\s+(?:a\s+|an\s+|the\s+)?(.+)$|"
    r"^(?:turn|change)\s+(?:the\s+)?(.+?)\s+(?:into|to)\s+(?:a\s+|an\s+)?(.+)$",
    re.I,
)


def edit_plan(source: dict, instruction: str) -> dict:
    """`source` with `instruction` applied; everything the instruction does not name stays, seed and
    layout included. A storyboard's plan is edited shot by shot. Raises ModelInputError (naming what
    worldsim understands) for an instruction it cannot read or one that changes nothing."""
    if not isinstance(source, dict) or "entities" not in source or "setting" not in source:
        raise ModelInputError("the source plan is not a worldsim plan (it needs 'setting' and 'entities')")
    if source.get("storyboard") and isinstance(source.get("shots"), list) and source["shots"]:
        shots, edits = [], []
        for shot in source["shots"]:
            edited, shot_edits = _edit_one(shot, instruction, missing_ok=True)
            shots.append(edited)
            edits += [e for e in shot_edits if e not in edits]
        if not any(e.startswith("removed") for e in edits) and _removal_asked(instruction):
            _edit_one(source, instruction, missing_ok=False)  # raises: nothing of that kind anywhere
        if not edits:
            raise ModelInputError(f"the instruction {instruction!r} changes nothing in this clip; {EDIT_HELP}")
        plan = storyboard_plan(shots, source.get("prompt", ""), int(source["seed"]), *source["size"])
    else:
        plan, edits = _edit_one(source, instruction, missing_ok=False)
        if not edits:
            raise ModelInputError(f"the instruction {instruction!r} changes nothing in this clip; {EDIT_HELP}")
    plan["edit"] = {"source_prompt": source.get("prompt", ""), "instruction": instruction, "edits": edits}
    return plan


def _removal_asked(instruction: str) -> bool:
    return any(_REMOVE.match(c.strip()) for c in _clauses(instruction))


def _clauses(instruction: str) -> list[str]:
    return [
        c.strip() for c in re.split(r"[,;.!]|\band\b|\bthen\b|\balso\b|\bplus\b", instruction, flags=re.I) if c.strip()
    ]


def _edit_one(source: dict, instruction: str, missing_ok: bool) -> tuple[dict, list[str]]:
    plan = copy.deepcopy(source)
    plan.pop("edit", None)
    plan.pop("remix", None)
    rng = _rng(instruction, int(plan["seed"]), "edit")
    edits: list[str] = []

    def change(key: str, value: str) -> None:
        if plan.get(key) != value:
            plan[key] = value
            edits.append(f"{key} -> {value}")

    clauses = _clauses(instruction)
    if not clauses:
        raise ModelInputError(f"an edit needs an instruction; {EDIT_HELP}")
    for clause in clauses:
        removal, swap = _REMOVE.match(clause), _SWAP.match(clause)
        if removal:
            _remove(plan, removal.group(1), missing_ok, edits, change)
            continue
        if swap:
            old, new = (swap.group(1), swap.group(2)) if swap.group(1) else (swap.group(3), swap.group(4))
            if _swap(plan, old, new, rng, edits):
                continue
        text = _LEAD.sub("", clause).strip()
        weather = _weather_word(text)
        if weather is not None:
            change("weather", weather)
            continue
        parsed = parse_prompt(text)
        unknown = [w for w in parsed["not_understood"] if w not in _FILLER]
        if unknown or not parsed["mentions"]:
            what = ", ".join(repr(w) for w in unknown) or repr(clause)
            raise ModelInputError(
                f"worldsim cannot apply the edit {instruction!r}: it does not understand {what}; {EDIT_HELP}"
            )
        for m in parsed["mentions"]:
            key = {
                "setting": "setting",
                "style": "style",
                "time": "time_of_day",
                "weather": "weather",
                "camera": "camera",
            }.get(m["category"])
            if key:
                change(key, m["concept"])
            elif m["category"] == "action":
                if m["concept"] not in plan["actions"]:
                    plan["actions"] = sorted(set(plan["actions"]) | {m["concept"]})
                    edits.append(f"action + {m['concept']}")
            elif m["category"] == "entity" and m["text"] in _SETTING_WORDS:  # "on the beach" is a place
                change("setting", _SETTING_WORDS[m["text"]])
            elif m["category"] == "entity":
                kind = m["concept"]
                if kind == "ball":
                    kind = GENERIC_BALL_BY_SETTING.get(plan["setting"], "soccer_ball")
                have = sum(1 for e in plan["entities"] if e["kind"] == kind)
                for _ in range(max(1 if m["new"] or not have else 0, m["count"] - have)):
                    entity = _entity(kind, rng, _next_id(plan["entities"]))
                    if entity["category"] == "character":
                        entity["voice"] = _voice_for(entity, rng)
                    plan["entities"].append(entity)
                    edits.append(f"added {kind} ({entity['id']})")
    return plan, edits


def _weather_word(text: str) -> str | None:
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in C.STOPWORDS and w not in _FILLER]
    if len(words) > 2:
        return None
    for name, pattern in _WEATHER_WORDS:
        if re.fullmatch(rf"(?:{pattern})(?:\s+\w+)?", " ".join(words)):
            return name
    return None


def _remove(plan: dict, phrase: str, missing_ok: bool, edits: list[str], change) -> None:
    if _weather_word(phrase) not in (None, "clear"):
        change("weather", "clear")
        return
    kind = _entity_kind(phrase, plan["setting"])
    if kind is None:
        raise ModelInputError(
            f"worldsim cannot remove {phrase!r}: it is not a person, animal or thing it knows; {EDIT_HELP}"
        )
    gone = {e["id"] for e in plan["entities"] if e["kind"] == kind}
    if not gone:
        if missing_ok:
            return
        raise ModelInputError(f"there is no {kind.replace('_', ' ')} in this clip to remove")
    if len(gone) == len(plan["entities"]):
        raise ModelInputError(f"removing the {kind.replace('_', ' ')} would leave an empty clip")
    plan["entities"] = [e for e in plan["entities"] if e["id"] not in gone]
    plan["dialogue"] = [d for d in plan.get("dialogue", []) if d["speaker"] not in gone]
    edits.append(f"removed {kind}")


def _swap(plan: dict, old_phrase: str, new_phrase: str, rng, edits: list[str]) -> bool:
    old_kind, new_kind = _entity_kind(old_phrase, plan["setting"]), _entity_kind(new_phrase, plan["setting"])
    if not old_kind or not new_kind:
        return False
    victims = [e for e in plan["entities"] if e["kind"] == old_kind]
    if not victims:
        raise ModelInputError(f"there is no {old_kind.replace('_', ' ')} in this clip to replace")
    for e in victims:
        fresh = _entity(new_kind, rng, 0)
        e.update(kind=new_kind, category=fresh["category"], color=fresh["color"])
        if fresh["category"] == "character" and "voice" not in e:
            e["voice"] = _voice_for(fresh, rng)
    edits.append(f"replaced {old_kind} with {new_kind}")
    return True
