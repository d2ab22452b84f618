"""Colours of a scene: a daylight palette per setting, relit for the time of day."""

from __future__ import annotations

from dataclasses import dataclass, replace

from reelgate.engines.synthetic.prompt import RGB, Recipe, Setting, TimeOfDay


@dataclass(frozen=True, slots=True)
class Palette:
    """Every colour the scenery painters use, as 0..255 RGB."""

    sky_top: RGB
    sky_horizon: RGB
    light: RGB  # the sun or the moon
    light_height: float  # 0 on the horizon, 1 at the top of the first frame
    clouds: RGB
    cloud_cover: float  # 0 clear .. 1 overcast
    far: RGB  # the farthest ridge or skyline, before haze
    ground_far: RGB
    ground_near: RGB
    ground_detail: RGB
    foliage: RGB
    water: RGB
    windows: RGB  # lit windows and street lights
    subject: RGB
    stars: bool


_DAY: dict[Setting, Palette] = {
    Setting.MEADOW: Palette(
        sky_top=(62, 124, 206),
        sky_horizon=(178, 208, 234),
        light=(255, 250, 225),
        light_height=0.8,
        clouds=(248, 248, 250),
        cloud_cover=0.35,
        far=(92, 120, 150),
        ground_far=(118, 156, 74),
        ground_near=(66, 118, 42),
        ground_detail=(150, 178, 86),
        foliage=(46, 96, 42),
        water=(70, 130, 180),
        windows=(255, 222, 150),
        subject=(58, 52, 60),
        stars=False,
    ),
    Setting.FOREST: Palette(
        sky_top=(78, 132, 196),
        sky_horizon=(186, 210, 222),
        light=(255, 248, 220),
        light_height=0.85,
        clouds=(240, 242, 245),
        cloud_cover=0.4,
        far=(66, 98, 96),
        ground_far=(62, 96, 48),
        ground_near=(38, 70, 32),
        ground_detail=(88, 120, 56),
        foliage=(26, 64, 38),
        water=(60, 110, 130),
        windows=(255, 222, 150),
        subject=(70, 48, 40),
        stars=False,
    ),
    Setting.OCEAN: Palette(
        sky_top=(48, 118, 210),
        sky_horizon=(176, 214, 240),
        light=(255, 252, 230),
        light_height=0.75,
        clouds=(250, 250, 252),
        cloud_cover=0.3,
        far=(84, 118, 112),
        ground_far=(228, 206, 158),
        ground_near=(210, 184, 132),
        ground_detail=(240, 222, 180),
        foliage=(50, 110, 60),
        water=(34, 100, 160),
        windows=(255, 222, 150),
        subject=(60, 50, 52),
        stars=False,
    ),
    Setting.CITY: Palette(
        sky_top=(80, 128, 190),
        sky_horizon=(196, 210, 222),
        light=(255, 248, 225),
        light_height=0.8,
        clouds=(236, 238, 242),
        cloud_cover=0.45,
        far=(128, 138, 156),
        ground_far=(104, 104, 110),
        ground_near=(72, 72, 78),
        ground_detail=(150, 150, 150),
        foliage=(50, 96, 50),
        water=(70, 110, 150),
        windows=(255, 214, 130),
        subject=(40, 44, 60),
        stars=False,
    ),
    Setting.DESERT: Palette(
        sky_top=(66, 138, 214),
        sky_horizon=(222, 214, 196),
        light=(255, 250, 230),
        light_height=0.9,
        clouds=(250, 248, 244),
        cloud_cover=0.12,
        far=(190, 126, 84),
        ground_far=(232, 196, 136),
        ground_near=(212, 162, 100),
        ground_detail=(242, 214, 160),
        foliage=(84, 120, 64),
        water=(80, 150, 180),
        windows=(255, 222, 150),
        subject=(70, 46, 36),
        stars=False,
    ),
    Setting.SNOW: Palette(
        sky_top=(120, 160, 212),
        sky_horizon=(222, 230, 240),
        light=(255, 252, 240),
        light_height=0.6,
        clouds=(244, 246, 250),
        cloud_cover=0.5,
        far=(156, 172, 200),
        ground_far=(236, 241, 250),
        ground_near=(246, 248, 252),
        ground_detail=(196, 210, 234),
        foliage=(34, 70, 52),
        water=(110, 150, 190),
        windows=(255, 222, 150),
        subject=(52, 40, 46),
        stars=False,
    ),
}


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _tint(c: RGB, gains: tuple[float, float, float]) -> RGB:
    return (
        min(255, round(c[0] * gains[0])),
        min(255, round(c[1] * gains[1])),
        min(255, round(c[2] * gains[2])),
    )


def _sunset(p: Palette) -> Palette:
    warm = (1.0, 0.74, 0.62)
    return replace(
        p,
        sky_top=(54, 58, 118),
        sky_horizon=(250, 156, 86),
        light=(255, 196, 120),
        light_height=0.12,
        clouds=(242, 132, 120),
        far=_mix(_tint(p.far, warm), (70, 50, 90), 0.5),
        ground_far=_tint(p.ground_far, warm),
        ground_near=_tint(p.ground_near, (0.8, 0.58, 0.5)),
        ground_detail=_tint(p.ground_detail, warm),
        foliage=_tint(p.foliage, (0.8, 0.6, 0.55)),
        water=_mix(p.water, (180, 90, 80), 0.35),
        subject=(34, 24, 34),
    )


def _night(p: Palette) -> Palette:
    moonlit = (0.2, 0.24, 0.36)
    return replace(
        p,
        sky_top=(4, 7, 24),
        sky_horizon=(24, 36, 72),
        light=(236, 236, 218),
        light_height=0.7,
        clouds=(40, 46, 70),
        cloud_cover=p.cloud_cover * 0.6,
        far=(22, 28, 48),
        ground_far=_tint(p.ground_far, moonlit),
        ground_near=_tint(p.ground_near, moonlit),
        ground_detail=_tint(p.ground_detail, moonlit),
        foliage=_tint(p.foliage, moonlit),
        water=_tint(p.water, (0.25, 0.3, 0.45)),
        subject=(12, 12, 20),
        stars=True,
    )


def palette_for(recipe: Recipe) -> Palette:
    """The palette for a recipe, subject colour included."""
    palette = _DAY[recipe.setting]
    if recipe.time is TimeOfDay.SUNSET:
        palette = _sunset(palette)
    elif recipe.time is TimeOfDay.NIGHT:
        palette = _night(palette)
    if recipe.subject_color is not None:
        light = {TimeOfDay.DAY: 1.0, TimeOfDay.SUNSET: 0.7, TimeOfDay.NIGHT: 0.3}[recipe.time]
        palette = replace(palette, subject=_tint(recipe.subject_color, (light, light, light)))
    return palette
