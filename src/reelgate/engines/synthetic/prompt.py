"""Reading a prompt into a scene recipe: time of day, setting, subject and its colour.

Words are matched whole in Latin scripts (accents folded, plural `s`/`es` dropped) and as
substrings in CJK text, which has no spaces. English, Spanish and Chinese words are known; a
prompt with none of them gets a sunny meadow with a person in it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class TimeOfDay(StrEnum):
    DAY = "day"
    SUNSET = "sunset"
    NIGHT = "night"


class Setting(StrEnum):
    MEADOW = "meadow"
    FOREST = "forest"
    OCEAN = "ocean"
    CITY = "city"
    DESERT = "desert"
    SNOW = "snow"


class Subject(StrEnum):
    PERSON = "person"
    CAT = "cat"
    DOG = "dog"
    CAR = "car"
    HOUSE = "house"
    BOAT = "boat"
    BIRD = "bird"
    TREE = "tree"


RGB = tuple[int, int, int]

_TIME_WORDS: dict[TimeOfDay, tuple[str, ...]] = {
    TimeOfDay.NIGHT: (
        "night",
        "midnight",
        "moon",
        "moonlight",
        "moonlit",
        "star",
        "starry",
        "nocturnal",
        "noche",
        "nocturno",
        "luna",
        "estrella",
        "夜",
        "晚上",
        "月亮",
        "月光",
        "星空",
        "星星",
    ),
    TimeOfDay.SUNSET: (
        "sunset",
        "dusk",
        "sunrise",
        "dawn",
        "twilight",
        "golden",
        "evening",
        "atardecer",
        "amanecer",
        "ocaso",
        "crepusculo",
        "anochecer",
        "日落",
        "黄昏",
        "夕阳",
        "日出",
        "黎明",
        "傍晚",
        "晚霞",
    ),
    TimeOfDay.DAY: (
        "day",
        "sunny",
        "noon",
        "morning",
        "daylight",
        "dia",
        "soleado",
        "manana",
        "mediodia",
        "白天",
        "阳光",
        "晴",
        "早上",
        "中午",
    ),
}

_SETTING_WORDS: dict[Setting, tuple[str, ...]] = {
    Setting.SNOW: (
        "snow",
        "snowy",
        "winter",
        "ice",
        "icy",
        "frozen",
        "glacier",
        "blizzard",
        "nieve",
        "nevado",
        "invierno",
        "hielo",
        "helado",
        "雪",
        "冬",
        "冰",
    ),
    Setting.OCEAN: (
        "ocean",
        "sea",
        "beach",
        "wave",
        "coast",
        "shore",
        "lake",
        "harbor",
        "harbour",
        "island",
        "mar",
        "oceano",
        "playa",
        "ola",
        "costa",
        "lago",
        "isla",
        "puerto",
        "海",
        "浪",
        "湖",
        "岛",
        "沙滩",
    ),
    Setting.CITY: (
        "city",
        "urban",
        "street",
        "skyline",
        "downtown",
        "building",
        "skyscraper",
        "town",
        "ciudad",
        "calle",
        "edificio",
        "rascacielo",
        "urbano",
        "城市",
        "街",
        "都市",
        "大楼",
        "高楼",
        "城",
    ),
    Setting.DESERT: (
        "desert",
        "dune",
        "sand",
        "sahara",
        "cactus",
        "desierto",
        "duna",
        "arena",
        "沙漠",
        "沙丘",
    ),
    Setting.FOREST: (
        "forest",
        "wood",
        "woods",
        "jungle",
        "pine",
        "trees",
        "bosque",
        "selva",
        "pino",
        "arboles",
        "森林",
        "树林",
        "丛林",
        "松",
    ),
}

_MOUNTAIN_WORDS = (
    "mountain",
    "mountains",
    "peak",
    "alps",
    "montana",
    "sierra",
    "cordillera",
    "山",
    "峰",
)

_SUBJECT_WORDS: dict[Subject, tuple[str, ...]] = {
    Subject.CAT: ("cat", "kitten", "kitty", "gato", "gata", "gatito", "猫"),
    Subject.DOG: ("dog", "puppy", "hound", "perro", "perrito", "cachorro", "狗", "犬"),
    Subject.CAR: (
        "car",
        "truck",
        "vehicle",
        "jeep",
        "coche",
        "carro",
        "auto",
        "camion",
        "汽车",
        "车",
    ),
    Subject.BOAT: (
        "boat",
        "ship",
        "sailboat",
        "yacht",
        "barco",
        "barca",
        "velero",
        "bote",
        "船",
        "帆",
    ),
    Subject.HOUSE: (
        "house",
        "home",
        "cabin",
        "cottage",
        "hut",
        "casa",
        "cabana",
        "choza",
        "房子",
        "房屋",
        "小屋",
        "屋",
    ),
    Subject.BIRD: ("bird", "eagle", "crow", "seagull", "pajaro", "ave", "aguila", "鸟", "鹰"),
    Subject.PERSON: (
        "person",
        "man",
        "woman",
        "girl",
        "boy",
        "child",
        "kid",
        "people",
        "astronaut",
        "traveler",
        "hiker",
        "dancer",
        "persona",
        "hombre",
        "mujer",
        "nino",
        "nina",
        "chica",
        "chico",
        "gente",
        "人",
        "男",
        "女",
        "孩",
    ),
    Subject.TREE: ("tree", "oak", "arbol", "roble", "大树", "一棵树", "老树"),
}

_COLOR_WORDS: dict[RGB, tuple[str, ...]] = {
    (200, 40, 35): ("red", "rojo", "roja", "红"),
    (40, 80, 200): ("blue", "azul", "蓝"),
    (50, 150, 60): ("green", "verde", "绿"),
    (235, 200, 40): ("yellow", "amarillo", "amarilla", "黄色"),
    (235, 235, 230): ("white", "blanco", "blanca", "白色"),
    (25, 25, 28): ("black", "negro", "negra", "黑"),
    (235, 120, 30): ("orange", "naranja", "橙"),
    (130, 60, 170): ("purple", "violet", "morado", "morada", "紫"),
    (240, 130, 170): ("pink", "rosa", "粉"),
    (140, 90, 50): ("brown", "marron", "cafe", "棕"),
}


@dataclass(frozen=True, slots=True)
class Recipe:
    """What a prompt asks the scene to contain."""

    time: TimeOfDay
    setting: Setting
    subject: Subject
    mountains: bool
    subject_color: RGB | None


class _Words:
    """A prompt split for matching: Latin words folded to ASCII, and the raw CJK text."""

    def __init__(self, prompt: str) -> None:
        folded = unicodedata.normalize("NFKD", prompt.lower())
        self.text = "".join(ch for ch in folded if not unicodedata.combining(ch))
        tokens = re.findall(r"[a-z]+", self.text)
        self.tokens = set(tokens)
        self.tokens.update(t[:-1] for t in tokens if t.endswith("s") and len(t) > 3)
        self.tokens.update(t[:-2] for t in tokens if t.endswith("es") and len(t) > 4)

    def position(self, words: tuple[str, ...]) -> int | None:
        """Index of the earliest matching word in the prompt, or None."""
        found: list[int] = []
        for word in words:
            if word.isascii():
                if word in self.tokens:
                    match = re.search(rf"\b{word}", self.text)
                    found.append(match.start() if match else 0)
            elif word in self.text:
                found.append(self.text.index(word))
        return min(found) if found else None


def _first(words: _Words, table: dict[str, tuple[str, ...]]) -> str | None:
    hits = [
        (pos, key) for key, vocab in table.items() if (pos := words.position(vocab)) is not None
    ]
    return min(hits)[1] if hits else None


def read_prompt(prompt: str) -> Recipe:
    """The recipe a prompt asks for; a word that comes earlier wins within one category."""
    words = _Words(prompt)
    time = _first(words, {str(k): v for k, v in _TIME_WORDS.items()})
    setting = _first(words, {str(k): v for k, v in _SETTING_WORDS.items()})
    subject = _first(words, {str(k): v for k, v in _SUBJECT_WORDS.items()})
    if subject == Subject.TREE and setting == Setting.FOREST:
        subject = None  # "a forest of trees" names the setting, not a lone tree
    if subject == Subject.BOAT and setting is None:
        setting = Setting.OCEAN  # a boat with nowhere named floats, not beached on a meadow
    color_hits = [
        (pos, rgb)
        for rgb, vocab in _COLOR_WORDS.items()
        if (pos := words.position(vocab)) is not None
    ]
    return Recipe(
        time=TimeOfDay(time) if time else TimeOfDay.DAY,
        setting=Setting(setting) if setting else Setting.MEADOW,
        subject=Subject(subject) if subject else Subject.PERSON,
        mountains=words.position(_MOUNTAIN_WORDS) is not None,
        subject_color=min(color_hits)[1] if color_hits else None,
    )


def scene_seed(prompt: str, seed: int) -> int:
    """A 64-bit seed for one (prompt, seed) pair, stable across processes and platforms."""
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little")
