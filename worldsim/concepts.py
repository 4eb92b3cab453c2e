"""The concept library the planner matches prompt words against.

Each concept carries a `text` that is embedded (synonyms help the matcher) and the
physical / visual attributes the simulator and renderer need.
"""

from __future__ import annotations

# Materials: restitution, friction and how a contact sounds (modal frequencies in Hz,
# decay in seconds, noise share). Pairs combine restitution by product of square roots.
MATERIALS = {
    "rubber": {"restitution": 0.82, "friction": 0.6, "modes": [180, 410, 870], "decay": 0.07, "noise": 0.25},
    "leather": {"restitution": 0.72, "friction": 0.6, "modes": [140, 330, 720], "decay": 0.06, "noise": 0.3},
    "plastic": {"restitution": 0.7, "friction": 0.4, "modes": [420, 980, 2100], "decay": 0.05, "noise": 0.3},
    "felt": {"restitution": 0.75, "friction": 0.5, "modes": [320, 760, 1500], "decay": 0.04, "noise": 0.4},
    "fruit": {"restitution": 0.35, "friction": 0.7, "modes": [90, 210, 400], "decay": 0.09, "noise": 0.5},
    "wood": {"restitution": 0.55, "friction": 0.5, "modes": [260, 640, 1380], "decay": 0.08, "noise": 0.3},
    "metal": {"restitution": 0.6, "friction": 0.35, "modes": [520, 1370, 2900], "decay": 0.35, "noise": 0.1},
    "glass": {"restitution": 0.5, "friction": 0.3, "modes": [1200, 2750, 5100], "decay": 0.25, "noise": 0.1},
    "stone": {"restitution": 0.4, "friction": 0.7, "modes": [300, 820, 1900], "decay": 0.05, "noise": 0.6},
    "snow": {"restitution": 0.15, "friction": 0.8, "modes": [120, 300, 650], "decay": 0.05, "noise": 0.8},
    "floor": {"restitution": 0.85, "friction": 0.6, "modes": [110, 250, 520], "decay": 0.06, "noise": 0.3},
    "sand": {"restitution": 0.3, "friction": 0.9, "modes": [90, 200, 420], "decay": 0.04, "noise": 0.9},
    "grass": {"restitution": 0.55, "friction": 0.8, "modes": [100, 230, 480], "decay": 0.04, "noise": 0.7},
    "asphalt": {"restitution": 0.75, "friction": 0.8, "modes": [150, 380, 800], "decay": 0.05, "noise": 0.5},
    "water": {"restitution": 0.1, "friction": 0.9, "modes": [200, 500, 1100], "decay": 0.15, "noise": 0.9},
}

# Entity kinds. category decides how the simulator treats it:
#   character / animal -> articulated, walks, runs, jumps, throws (animals don't throw)
#   prop -> rigid body (sphere) under physics
#   vehicle -> driven along the ground (kinematic), wheels turn
#   furniture / scenery -> static geometry or decoration
ENTITIES: dict[str, dict] = {
    # people
    "person": {"text": "person man woman human someone", "category": "character", "height": 1.75,
               "color": (0.25, 0.35, 0.75)},
    "basketball_player": {"text": "basketball player athlete hooper", "category": "character", "height": 1.95,
                          "color": (0.85, 0.15, 0.15)},
    "child": {"text": "child kid boy girl", "category": "character", "height": 1.2, "color": (0.95, 0.75, 0.2)},
    "chef": {"text": "chef cook", "category": "character", "height": 1.75, "color": (0.95, 0.95, 0.95)},
    "dancer": {"text": "dancer ballerina", "category": "character", "height": 1.7, "color": (0.8, 0.2, 0.6)},
    "musician": {"text": "musician singer guitarist", "category": "character", "height": 1.78,
                 "color": (0.3, 0.3, 0.3)},
    "astronaut": {"text": "astronaut spaceman cosmonaut", "category": "character", "height": 1.8,
                  "color": (0.92, 0.92, 0.95)},
    "robot": {"text": "robot android machine man", "category": "character", "height": 1.6, "color": (0.6, 0.65, 0.7)},
    "skier": {"text": "skier snowboarder", "category": "character", "height": 1.75, "color": (0.1, 0.6, 0.9)},
    "swimmer": {"text": "swimmer diver", "category": "character", "height": 1.8, "color": (0.1, 0.3, 0.8)},
    "soccer_player": {"text": "soccer player footballer", "category": "character", "height": 1.8,
                      "color": (0.1, 0.6, 0.2)},
    # animals
    "dog": {"text": "dog puppy hound", "category": "animal", "height": 0.6, "color": (0.6, 0.42, 0.25)},
    "cat": {"text": "cat kitten", "category": "animal", "height": 0.3, "color": (0.45, 0.45, 0.45)},
    "horse": {"text": "horse pony", "category": "animal", "height": 1.6, "color": (0.45, 0.28, 0.15)},
    "penguin": {"text": "penguin", "category": "animal", "height": 0.7, "color": (0.08, 0.08, 0.1)},
    "rabbit": {"text": "rabbit bunny", "category": "animal", "height": 0.3, "color": (0.85, 0.82, 0.78)},
    "bear": {"text": "bear grizzly", "category": "animal", "height": 1.2, "color": (0.35, 0.22, 0.12)},
    "bird": {"text": "bird pigeon seagull", "category": "animal", "height": 0.25, "color": (0.3, 0.3, 0.6)},
    # balls and thrown things (rigid spheres)
    "basketball": {"text": "basketball", "category": "prop", "radius": 0.12, "mass": 0.62, "material": "rubber",
                   "color": (0.9, 0.45, 0.1), "pattern": "basketball", "hollow": True},
    "soccer_ball": {"text": "soccer ball football", "category": "prop", "radius": 0.11, "mass": 0.43,
                    "material": "leather", "color": (0.97, 0.97, 0.97), "pattern": "soccer", "hollow": True},
    "tennis_ball": {"text": "tennis ball", "category": "prop", "radius": 0.034, "mass": 0.058, "material": "felt",
                    "color": (0.8, 0.95, 0.2), "pattern": "tennis", "hollow": True},
    "beach_ball": {"text": "beach ball inflatable", "category": "prop", "radius": 0.25, "mass": 0.2,
                   "material": "plastic", "color": (0.95, 0.2, 0.2), "pattern": "beach", "hollow": True},
    "bowling_ball": {"text": "bowling ball", "category": "prop", "radius": 0.109, "mass": 6.5, "material": "plastic",
                     "color": (0.15, 0.1, 0.4), "pattern": "plain"},
    "snowball": {"text": "snowball snow ball", "category": "prop", "radius": 0.06, "mass": 0.2, "material": "snow",
                 "color": (0.96, 0.97, 1.0), "pattern": "plain"},
    "rock": {"text": "rock stone pebble boulder", "category": "prop", "radius": 0.15, "mass": 8.0, "material": "stone",
             "color": (0.45, 0.43, 0.4), "pattern": "speckle"},
    "balloon": {"text": "balloon", "category": "prop", "radius": 0.15, "mass": 0.02, "material": "rubber",
                "color": (0.9, 0.1, 0.4), "pattern": "plain", "hollow": True},
    # food
    "watermelon": {"text": "watermelon melon", "category": "prop", "radius": 0.18, "mass": 5.0, "material": "fruit",
                   "color": (0.15, 0.55, 0.2), "pattern": "stripes"},
    "apple": {"text": "apple", "category": "prop", "radius": 0.04, "mass": 0.2, "material": "fruit",
              "color": (0.85, 0.1, 0.1), "pattern": "plain"},
    "orange": {"text": "orange citrus fruit", "category": "prop", "radius": 0.04, "mass": 0.2, "material": "fruit",
               "color": (1.0, 0.55, 0.05), "pattern": "speckle"},
    "egg": {"text": "egg", "category": "prop", "radius": 0.025, "mass": 0.06, "material": "glass",
            "color": (0.97, 0.93, 0.85), "pattern": "plain"},
    "pizza": {"text": "pizza", "category": "scenery", "width": 0.35, "height": 0.03, "color": (0.95, 0.7, 0.3)},
    "cake": {"text": "cake birthday cake", "category": "scenery", "width": 0.3, "height": 0.2,
             "color": (0.95, 0.8, 0.85)},
    "coconut": {"text": "coconut", "category": "prop", "radius": 0.08, "mass": 1.2, "material": "wood",
                "color": (0.45, 0.3, 0.15), "pattern": "speckle"},
    # vehicles
    "car": {"text": "car automobile sedan taxi", "category": "vehicle", "width": 4.2, "height": 1.45,
            "color": (0.8, 0.1, 0.1), "speed": 8.0},
    "bus": {"text": "bus coach", "category": "vehicle", "width": 10.0, "height": 3.0, "color": (0.95, 0.75, 0.1),
            "speed": 6.0},
    "truck": {"text": "truck lorry", "category": "vehicle", "width": 7.0, "height": 3.2, "color": (0.2, 0.4, 0.7),
              "speed": 6.5},
    "bicycle": {"text": "bicycle bike cyclist", "category": "vehicle", "width": 1.7, "height": 1.0,
                "color": (0.1, 0.5, 0.8), "speed": 5.0},
    "skateboard": {"text": "skateboard skater", "category": "vehicle", "width": 0.8, "height": 0.12,
                   "color": (0.7, 0.3, 0.1), "speed": 4.0},
    "boat": {"text": "boat ship sailboat", "category": "vehicle", "width": 5.0, "height": 2.0,
             "color": (0.95, 0.95, 0.95), "speed": 3.0},
    "rocket": {"text": "rocket spaceship", "category": "vehicle", "width": 1.2, "height": 6.0,
               "color": (0.9, 0.9, 0.92), "speed": 4.0},
    # furniture (static geometry the props land on)
    "table": {"text": "table desk counter", "category": "furniture", "width": 1.6, "height": 0.9,
              "color": (0.55, 0.35, 0.2), "material": "wood"},
    "chair": {"text": "chair stool", "category": "furniture", "width": 0.5, "height": 0.5, "color": (0.5, 0.3, 0.2),
              "material": "wood"},
    "sofa": {"text": "sofa couch", "category": "furniture", "width": 2.0, "height": 0.45, "color": (0.3, 0.35, 0.6),
             "material": "felt"},
    "lamp": {"text": "lamp floor lamp light", "category": "scenery", "width": 0.4, "height": 1.6,
             "color": (0.95, 0.9, 0.6)},
    "bookshelf": {"text": "bookshelf shelf books", "category": "scenery", "width": 1.0, "height": 1.9,
                  "color": (0.45, 0.3, 0.18)},
    # instruments
    "guitar": {"text": "guitar", "category": "scenery", "width": 0.4, "height": 1.0, "color": (0.75, 0.45, 0.15),
               "music": "guitar"},
    "piano": {"text": "piano keyboard", "category": "furniture", "width": 1.5, "height": 1.0,
              "color": (0.05, 0.05, 0.06), "material": "wood", "music": "piano"},
    "drum": {"text": "drum drums drum kit", "category": "furniture", "width": 0.6, "height": 0.6,
             "color": (0.8, 0.1, 0.15), "material": "wood", "music": "drum"},
    "violin": {"text": "violin fiddle", "category": "scenery", "width": 0.25, "height": 0.6, "color": (0.6, 0.3, 0.1),
               "music": "violin"},
    "trumpet": {"text": "trumpet horn", "category": "scenery", "width": 0.5, "height": 0.15, "color": (0.9, 0.75, 0.2),
                "music": "trumpet"},
    # nature
    "tree": {"text": "tree palm oak", "category": "scenery", "width": 2.5, "height": 5.0, "color": (0.2, 0.5, 0.2)},
    "flower": {"text": "flower flowers rose", "category": "scenery", "width": 0.3, "height": 0.4,
               "color": (0.9, 0.3, 0.5)},
    "snowman": {"text": "snowman", "category": "scenery", "width": 0.8, "height": 1.6, "color": (0.97, 0.97, 1.0)},
}

SETTINGS: dict[str, dict] = {
    "basketball_court": {"text": "basketball court gym arena hoop three-pointer dunk", "ground": "floor", "width": 16.0,
                         "sky": "indoor", "ambience": "crowd", "floor_color": (0.78, 0.55, 0.32),
                         "far_color": (0.25, 0.25, 0.32)},
    "beach": {"text": "beach sand sea ocean shore waves", "ground": "sand", "width": 24.0, "sky": "open",
              "ambience": "waves", "floor_color": (0.9, 0.8, 0.55), "far_color": (0.15, 0.45, 0.7)},
    "city_street": {"text": "city street downtown sidewalk buildings", "ground": "asphalt", "width": 30.0,
                    "sky": "open", "ambience": "city", "floor_color": (0.3, 0.3, 0.32), "far_color": (0.5, 0.5, 0.55)},
    "kitchen": {"text": "kitchen cooking stove", "ground": "wood", "width": 8.0, "sky": "indoor", "ambience": "room",
                "floor_color": (0.72, 0.6, 0.45), "far_color": (0.85, 0.82, 0.75)},
    "forest": {"text": "forest woods trees jungle", "ground": "grass", "width": 24.0, "sky": "open",
               "ambience": "forest", "floor_color": (0.3, 0.42, 0.18), "far_color": (0.15, 0.3, 0.15)},
    "stage": {"text": "stage concert theater spotlight", "ground": "wood", "width": 12.0, "sky": "indoor",
              "ambience": "hall", "floor_color": (0.35, 0.22, 0.12), "far_color": (0.08, 0.06, 0.1)},
    "snow_slope": {"text": "snow slope ski mountain winter", "ground": "snow", "width": 30.0, "sky": "open",
                   "ambience": "wind", "floor_color": (0.93, 0.95, 0.98), "far_color": (0.6, 0.65, 0.75)},
    "pool": {"text": "swimming pool poolside", "ground": "stone", "width": 16.0, "sky": "open", "ambience": "pool",
             "floor_color": (0.85, 0.85, 0.82), "far_color": (0.2, 0.6, 0.85)},
    "space": {"text": "outer space moon planet stars orbit", "ground": "stone", "width": 24.0, "sky": "space",
              "ambience": "space", "floor_color": (0.55, 0.55, 0.55), "far_color": (0.02, 0.02, 0.05), "gravity": 1.62},
    "living_room": {"text": "living room home apartment lounge", "ground": "wood", "width": 8.0, "sky": "indoor",
                    "ambience": "room", "floor_color": (0.6, 0.45, 0.3), "far_color": (0.75, 0.7, 0.62)},
    "park": {"text": "park lawn playground meadow garden", "ground": "grass", "width": 24.0, "sky": "open",
             "ambience": "park", "floor_color": (0.35, 0.6, 0.25), "far_color": (0.3, 0.5, 0.3)},
    "road": {"text": "road highway countryside", "ground": "asphalt", "width": 40.0, "sky": "open", "ambience": "road",
             "floor_color": (0.25, 0.25, 0.27), "far_color": (0.45, 0.6, 0.4)},
}

STYLES = {
    "realistic": "realistic photorealistic natural photo",
    "cinematic": "cinematic film movie epic dramatic widescreen",
    "anime": "anime cartoon manga animated cel shaded",
    "watercolor": "watercolor watercolour aquarelle painterly",
    "black_and_white": "monochrome grayscale greyscale noir",
}

TIMES_OF_DAY = {
    "day": "day daytime noon midday sunny afternoon",
    "sunrise": "sunrise dawn morning",
    "sunset": "sunset dusk golden hour evening",
    "night": "night nighttime midnight dark moonlight",
}

WEATHER = {
    "clear": "clear sky fine weather",
    "cloudy": "cloudy overcast clouds",
    "rain": "rain rainy raining storm downpour",
    "snow": "snowing snowfall snowy blizzard",
    "fog": "fog foggy mist misty haze",
}

CAMERA_MOVES = {
    "static": "static still fixed tripod shot",
    "pan_left": "pan left",
    "pan_right": "pan right panning",
    "dolly_in": "dolly in zoom in push in close up",
    "dolly_out": "dolly out zoom out pull back wide shot",
    "tracking": "tracking shot follow following",
    "crane_up": "crane up rising aerial",
    "handheld": "handheld shaky documentary",
}

ACTIONS = {
    "miss": "misses miss missed brick airball",
    "make": "scores swish sinks nails",
    "shoot": "shoots shot three-pointer jumper",
    "throw": "throws throw tosses toss hurls",
    "kick": "kicks kick",
    "drop": "drops drop falls fall falling tumbles",
    "bounce": "bounces bounce bouncing dribbles",
    "roll": "rolls roll rolling",
    "walk": "walks walk walking strolls",
    "run": "runs run running sprints chases",
    "jump": "jumps jump jumping leaps hops",
    "dance": "dances dance dancing",
    "talk": "says talks speaks shouts sings",
    "drive": "drives driving",
}

# Words that carry no scene meaning; they are neither understood nor reported missing.
STOPWORDS = set(
    """a an the and or of in on at to from with into onto off over under by for as is are was were be
    it its his her their them they he she we you i this that these those then while very really
    some there here up down out through across near next behind front just""".split()
)

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "a pair of": 2, "couple": 2}
