"""CameraPath follows CONTRACT.md 4.2: where a point of the first frame is at later frames."""

from __future__ import annotations

import math

import pytest

from reelgate.core.camera import Affine, Box, CameraPath
from reelgate.core.tasks import MotionVector

W, H = 1280, 720
CENTRE = (W / 2, H / 2)


def _flat(transform: Affine) -> list[float]:
    return [value for row in transform.rows() for value in row]


def _moved(path: CameraPath, frame: int, x: float, y: float) -> tuple[float, float]:
    nx, ny = path.picture(frame).apply(x, y)
    return nx - x, ny - y


def _angle_ccw(path: CameraPath, frame: int) -> float:
    """Degrees a rightward arrow of the first frame has turned counter-clockwise (y points down)."""
    x0, y0 = path.picture(frame).apply(*CENTRE)
    x1, y1 = path.picture(frame).apply(CENTRE[0] + 100, CENTRE[1])
    return math.degrees(math.atan2(-(y1 - y0), x1 - x0))


def test_first_frame_is_the_untouched_picture() -> None:
    path = CameraPath(MotionVector(x=3, y=-2, z=4, r=7, bg_x_pan=5, bg_y_pan=-1), W, H)
    for transform in (path.picture(0), path.background(0)):
        for point in ((0.0, 0.0), (W / 3, H / 5), (W - 1.0, H - 1.0)):
            assert transform.apply(*point) == pytest.approx(point)


def test_still_camera_never_moves() -> None:
    path = CameraPath(MotionVector(), W, H)
    assert path.picture(239).apply(10.0, 20.0) == pytest.approx((10.0, 20.0))


@pytest.mark.parametrize("x", [5.0, -10.0, 0.4])
def test_positive_x_slides_the_picture_left_by_x_percent_of_width_per_second(x: float) -> None:
    path = CameraPath(MotionVector(x=x), W, H)
    for frame in (24, 120):
        dx, dy = _moved(path, frame, 300, 200)
        assert dx == pytest.approx(-x / 100 * W * frame / 24)
        assert dy == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("y", [5.0, -10.0, 0.4])
def test_positive_y_slides_the_picture_down_by_y_percent_of_height_per_second(y: float) -> None:
    path = CameraPath(MotionVector(y=y), W, H)
    dx, dy = _moved(path, 48, 900, 100)
    assert dy == pytest.approx(y / 100 * H * 2)
    assert dx == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("z", [5.0, -5.0, 10.0, -10.0])
def test_zoom_compounds_by_one_plus_z_percent_per_second_about_the_centre(z: float) -> None:
    path = CameraPath(MotionVector(z=z), W, H)
    assert path.scale(24) == pytest.approx(1 + z / 100)
    assert path.scale(240) == pytest.approx((1 + z / 100) ** 10)
    assert path.picture(240).apply(*CENTRE) == pytest.approx(CENTRE)
    nx, _ = path.picture(24).apply(CENTRE[0] + 100, CENTRE[1])
    assert nx - CENTRE[0] == pytest.approx(100 * (1 + z / 100))


@pytest.mark.parametrize("r", [5.0, -6.0, 10.0])
def test_positive_r_turns_the_picture_counter_clockwise_on_screen(r: float) -> None:
    path = CameraPath(MotionVector(r=r), W, H)
    assert _angle_ccw(path, 24) == pytest.approx(r)
    assert _angle_ccw(path, 72) == pytest.approx(3 * r)
    # A point right of the centre rises (smaller y) when the picture turns counter-clockwise.
    _, ny = path.picture(24).apply(CENTRE[0] + 100, CENTRE[1])
    assert (ny < CENTRE[1]) == (r > 0)


def test_seed_example_turns_sixty_degrees_clockwise_while_sliding_down() -> None:
    path = CameraPath(MotionVector(y=0.4, r=-6), W, H, fps=24)
    assert path.angle(240) == pytest.approx(-60)
    assert _angle_ccw(path, 240) == pytest.approx(-60)
    # The slide keeps its screen direction: a point at the centre drifts straight down at first.
    dx, dy = _moved(path, 1, *CENTRE)
    assert dy == pytest.approx(0.004 * H / 24, rel=1e-3)
    assert abs(dx) < dy * 0.05


def test_components_combine_into_one_steady_motion() -> None:
    path = CameraPath(MotionVector(x=3, y=-2, z=4, r=7), W, H)
    steps = [path.picture(i + 1) @ path.picture(i).inverse() for i in (0, 50, 200)]
    for step in steps[1:]:
        assert _flat(step) == pytest.approx(_flat(steps[0]))
    assert path.scale(24) == pytest.approx(1.04)
    assert path.angle(24) == pytest.approx(7)


def test_background_pan_moves_only_the_background() -> None:
    pan = CameraPath(MotionVector(bg_x_pan=5, bg_y_pan=-2), W, H)
    still = CameraPath(MotionVector(), W, H)
    assert pan.has_parallax
    assert not still.has_parallax
    assert _flat(pan.picture(48)) == pytest.approx(_flat(still.picture(48)))
    bx, by = pan.background(48).apply(100, 100)
    assert (bx - 100, by - 100) == pytest.approx((-0.05 * W * 2, -0.02 * H * 2))


def test_background_pan_adds_to_the_slide() -> None:
    both = CameraPath(MotionVector(x=2, bg_x_pan=3), W, H)
    bx, _ = both.background(24).apply(0, 0)
    fx, _ = both.picture(24).apply(0, 0)
    assert bx == pytest.approx(-0.05 * W)
    assert fx == pytest.approx(-0.02 * W)


def test_coverage_holds_every_pixel_the_clip_shows() -> None:
    path = CameraPath(MotionVector(x=10, z=-10, r=20), W, H)
    box = path.coverage(240)
    for frame in range(0, 240, 7):
        back = path.picture(frame).inverse()
        for corner in ((0, 0), (W, 0), (0, H), (W, H)):
            x, y = back.apply(*corner)
            assert box.left <= x <= box.right
            assert box.top <= y <= box.bottom


def test_coverage_of_a_still_clip_is_the_frame_plus_padding() -> None:
    box = CameraPath(MotionVector(), W, H).coverage(240, pad=2)
    assert (box.left, box.top, box.right, box.bottom) == (-2, -2, W + 2, H + 2)


def test_affine_composition_and_inverse() -> None:
    a = Affine(1.5, -0.2, 10, 0.3, 0.9, -4)
    b = Affine.translation(3, 4)
    point = (7.0, -2.0)
    assert (a @ b).apply(*point) == pytest.approx(a.apply(*b.apply(*point)))
    assert _flat(a.inverse() @ a) == pytest.approx(_flat(Affine.identity()))


def test_box_union_and_intersection() -> None:
    a, b = Box(0, 0, 10, 10), Box(5, -5, 20, 6)
    assert a.union(b) == Box(0, -5, 20, 10)
    assert a.intersect(b) == Box(5, 0, 10, 6)
    assert Box(0, 0, 1, 1).intersect(Box(5, 5, 6, 6)).width == 0


@pytest.mark.parametrize(("width", "height", "fps"), [(0, 720, 24), (1280, -1, 24), (1280, 720, 0)])
def test_rejects_degenerate_frames(width: int, height: int, fps: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        CameraPath(MotionVector(), width, height, fps)
