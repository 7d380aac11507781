"""A procedural face, drawn with OpenCV primitives and moved by FACS action-unit intensities.

The corpus (model/data/corpus.py) needs faces whose every expression change is known exactly, so that explanations can be
graded against it. A face is drawn on a fixed "canvas" (face-local coordinates, face centre at ``CENTRE``) and the
corpus warps that canvas into the video frame; boxes of the facial regions come from the same geometry that is drawn.

Haar-style face detectors need a realistic luminance pattern, so the shading map darkens eye sockets, the sides of
the nose and the oval's rim, and brightens the forehead, nose bridge and cheeks.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

AU_NAMES = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12",
    "AU15", "AU16", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU45",
)
AU_INDEX = {name: i for i, name in enumerate(AU_NAMES)}
AU_DESCRIPTIONS = {  # FACS names, for people
    "AU1": "inner brow raiser", "AU2": "outer brow raiser", "AU4": "brow lowerer", "AU5": "upper lid raiser",
    "AU6": "cheek raiser", "AU7": "lid tightener", "AU9": "nose wrinkler", "AU10": "upper lip raiser",
    "AU12": "lip corner puller", "AU15": "lip corner depressor", "AU16": "lower lip depressor", "AU17": "chin raiser",
    "AU20": "lip stretcher", "AU23": "lip tightener", "AU24": "lip pressor", "AU25": "lips part", "AU26": "jaw drop",
    "AU45": "blink",
}

CREASE_AUS = ("AU1", "AU2", "AU4", "AU6", "AU9", "AU12", "AU15", "AU17")  # AUs that also draw skin folds

CANVAS_W, CANVAS_H = 240, 320
CENTRE = (120.0, 120.0)  # the face oval's centre on the canvas

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel drawing keeps slow motions smooth
_ONE = 1 << _SHIFT

# Anchors of a light-to-dark skin continuum (BGR); a face takes a random point between two neighbours.
SKIN_TONES = np.array(
    [(196, 214, 245), (165, 192, 232), (128, 165, 214), (96, 136, 188), (70, 104, 150), (48, 72, 112)], np.float64
)
HAIR_COLOURS = np.array(
    [(22, 22, 26), (28, 40, 62), (40, 68, 108), (105, 165, 205), (35, 65, 150), (150, 150, 156)], np.float64
)
HAIR_WEIGHTS = np.array([0.32, 0.25, 0.18, 0.1, 0.07, 0.08])
IRIS_COLOURS = np.array([(30, 45, 70), (40, 70, 100), (60, 110, 120), (130, 120, 70), (150, 120, 90)], np.float64)
HAIR_STYLES = ("short", "long", "buzz", "fringe", "curly")


def _mix(a, b, t: float) -> tuple:
    """Colour a*(1-t) + b*t as the float tuple cv2 drawing wants."""
    return tuple(float(x) for x in np.asarray(a, np.float64) * (1.0 - t) + np.asarray(b, np.float64) * t)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _ONE).astype(np.int32)


def _fill(img, points, colour):
    cv2.fillPoly(img, [_fixed(points)], colour, cv2.LINE_AA, _SHIFT)


def _line(img, points, colour, thickness=1):
    cv2.polylines(img, [_fixed(points)], False, colour, thickness, cv2.LINE_AA, _SHIFT)


def _ellipse(img, centre, axes, colour, angle=0.0, start=0, end=360):
    cv2.ellipse(img, tuple(int(round(c * _ONE)) for c in centre), tuple(int(round(a * _ONE)) for a in axes),
                angle, start, end, colour, -1, cv2.LINE_AA, _SHIFT)


_BEZIER_T = np.linspace(0, 1, 8)[:, None]
_CUPIDS_BOW = np.exp(-((np.linspace(-1, 1, 11) / 0.13) ** 2))  # dip at the upper lip's centre
_ARC_STEPS: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}


def _arc(cx, half_w, y_ends, y_mid, power=1.0, n=11, u_max=1.0) -> np.ndarray:
    """Points (x, y) of a curve through (cx -/+ half_w, y_ends) that bulges to y_mid at the centre."""
    if (n, u_max) not in _ARC_STEPS:  # cached: this runs dozens of times per frame
        u = np.linspace(-u_max, u_max, n)
        _ARC_STEPS[n, u_max] = u, 1.0 - u * u
    u, bulge = _ARC_STEPS[n, u_max]
    points = np.empty((n, 2))
    points[:, 0] = cx + half_w * u
    points[:, 1] = y_ends + (y_mid - y_ends) * (bulge if power == 1.0 else bulge**power)
    return points


@dataclass(frozen=True)
class FaceIdentity:
    """Everything about a person's appearance that does not change during a clip (canvas pixels, BGR colours)."""

    half_width: float
    half_height: float
    jaw_taper: float  # 1 = round chin, smaller = pointed
    eye_dx: float  # eye centre to face midline
    eye_y: float
    eye_half_w: float
    eye_half_h: float
    brow_gap: float  # brow above eye centre
    brow_thickness: float
    nose_y: float
    nose_half_w: float
    mouth_y: float
    mouth_half_w: float
    upper_lip: float
    lower_lip: float
    hairline: float  # forehead height as a fraction of the half height
    hair_style: str
    skin: tuple
    lips: tuple
    hair: tuple
    brows: tuple
    iris: tuple
    clothes: tuple


def sample_face(rng: np.random.Generator) -> FaceIdentity:
    """A random person: face shape, proportions and colours."""
    fw, fh = rng.uniform(40, 48), rng.uniform(53, 60)
    cy = CENTRE[1]
    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    low = int(tone)
    skin = SKIN_TONES[low] * (1 - (tone - low)) + SKIN_TONES[min(low + 1, len(SKIN_TONES) - 1)] * (tone - low)
    skin = np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 255)
    hair = HAIR_COLOURS[rng.choice(len(HAIR_COLOURS), p=HAIR_WEIGHTS)] * rng.uniform(0.85, 1.15)
    # Brows stay darker than the skin even for blond or grey hair, as they do on real faces.
    brows = np.minimum(hair, skin * 0.45) * 0.9
    eye_half_w = fw * rng.uniform(0.19, 0.23)
    return FaceIdentity(
        half_width=fw,
        half_height=fh,
        jaw_taper=rng.uniform(0.7, 0.92),
        eye_dx=fw * rng.uniform(0.36, 0.44),
        eye_y=cy - fh * rng.uniform(0.06, 0.12),
        eye_half_w=eye_half_w,
        eye_half_h=eye_half_w * rng.uniform(0.42, 0.52),
        brow_gap=fh * rng.uniform(0.16, 0.21),
        brow_thickness=rng.uniform(3.0, 4.6),
        nose_y=cy + fh * rng.uniform(0.26, 0.33),
        nose_half_w=fw * rng.uniform(0.2, 0.26),
        mouth_y=cy + fh * rng.uniform(0.53, 0.6),
        mouth_half_w=fw * rng.uniform(0.34, 0.44),
        upper_lip=rng.uniform(2.6, 4.2),
        lower_lip=rng.uniform(3.6, 5.8),
        hairline=rng.uniform(0.5, 0.62),
        hair_style=str(rng.choice(HAIR_STYLES)),
        skin=tuple(skin),
        lips=tuple(np.clip(skin * np.array([0.62, 0.6, 0.88]), 0, 255)),
        hair=tuple(np.clip(hair, 0, 255)),
        brows=tuple(brows),
        iris=tuple(IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))]),
        clothes=tuple(rng.uniform(20, 230, 3)),
    )


class FaceRenderer:
    """Draws one identity under one lighting; ``geometry(au)`` then ``draw(geometry, au)`` for every frame.

    What never changes during a clip (clothes, neck, hair, the resting oval, the shading map) is drawn once here.
    """

    def __init__(self, face: FaceIdentity, light_side: float, gaze: float):
        self.face = face
        self.gaze = gaze
        self._oval_angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        rest = self.geometry(np.zeros(len(AU_NAMES)))
        self.base, self.base_mask = self._draw_static(rest["oval"])
        self.shade = self._shading(light_side)
        ys, xs = np.nonzero(self.base_mask)
        # Corners of everything ever drawn (the neck hides any jaw drop): the compositor warps only this box.
        self.bounds = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.min()],
                                [xs.min(), ys.max() + 1], [xs.max() + 1, ys.max() + 1]], np.float64)

    # ----------------------------------------------------------------------------------------- geometry
    def geometry(self, au: np.ndarray) -> dict[str, np.ndarray]:
        """Every drawn point of the face for AU intensities ``au`` (in AU_NAMES order), in canvas pixels.

        The coefficients are fractions of the face's half width (fw) or half height (fh): at full intensity an AU
        moves its feature by roughly 4-12 pixels on a face of 110-120 pixels.
        """
        (au1, au2, au4, au5, au6, au7, au9, au10, au12,
         au15, au16, au17, au20, au23, au24, au25, au26, au45) = (float(v) for v in au)
        f = self.face
        fw, fh = f.half_width, f.half_height
        cx, cy = CENTRE
        g: dict[str, np.ndarray] = {}

        jaw = 0.2 * fh * au26  # jaw drop lengthens the lower face
        sin, cos = np.sin(self._oval_angles), np.cos(self._oval_angles)
        lower = sin > 0
        taper = np.where(lower, 1 - (1 - f.jaw_taper) * sin**2, 1.0)
        g["oval"] = np.stack([cx + fw * cos * taper, cy + np.where(lower, fh + jaw, fh) * sin], 1)

        ew, eh = f.eye_half_w, f.eye_half_h
        upper_open = eh * max(0.15, 1 + 0.95 * au5 - 0.6 * au7 - 0.25 * au6 - 0.2 * au9 - 0.1 * au4)
        lower_open = eh * 0.55 * max(0.15, 1 - 0.8 * au7 - 0.55 * au6 - 0.25 * au9 + 0.1 * au5)
        brow_rest = f.eye_y - f.brow_gap
        for side, s in (("l", -1.0), ("r", 1.0)):
            ex, ey = cx + s * f.eye_dx, f.eye_y
            lower_lid = _arc(ex, ew, ey, ey + lower_open, power=1.0, n=9)
            upper_lid = _arc(ex, ew, ey, ey - upper_open, power=0.8, n=9)
            upper_lid[:, 1] = upper_lid[:, 1] * (1 - au45) + lower_lid[:, 1] * au45  # a blink closes the lid
            g[f"eye_centre_{side}"] = np.array([ex, ey])
            g[f"eye_upper_{side}"] = upper_lid
            g[f"eye_lower_{side}"] = lower_lid
            g[f"eye_crease_{side}"] = _arc(ex, ew, ey - 0.2 * eh, ey - upper_open - 0.5 * eh, 0.8, 7, 0.85)
            g[f"iris_{side}"] = np.array([ex + self.gaze * ew, ey + 0.1 * eh, 0.58 * ew])

            inner = np.array([cx + s * (f.eye_dx - 0.85 * ew - 0.09 * fw * au4 - 0.03 * fw * au9),
                              brow_rest - 0.17 * fh * au1 + 0.11 * fh * au4 + 0.05 * fh * au9 - 0.03 * fh * au2])
            outer = np.array([cx + s * (f.eye_dx + 1.25 * ew),
                              brow_rest + 0.03 * fh - 0.16 * fh * au2 + 0.04 * fh * au4 - 0.02 * fh * au1])
            arch = 0.07 * fh + 0.03 * fh * au2 - 0.03 * fh * au4
            control = inner + 0.55 * (outer - inner) - np.array([0.0, arch])
            t = _BEZIER_T
            centre_line = (1 - t) ** 2 * inner + 2 * t * (1 - t) * control + t * t * outer
            half_thick = (f.brow_thickness * (1.25 - 0.65 * t)) / 2
            g[f"brow_{side}"] = np.concatenate([centre_line - [0, 1] * half_thick,
                                                (centre_line + [0, 1] * half_thick)[::-1]])

            apple_y = ey + 0.42 * fh - 0.09 * fh * au6 - 0.03 * fh * au12
            g[f"cheek_{side}"] = np.array([cx + s * (f.eye_dx + 0.05 * fw), apple_y, 0.22 * fw, 0.14 * fh])
        g["brow_inner_y"] = np.array([g["brow_l"][0, 1], g["brow_r"][0, 1]])

        nose_y = f.nose_y - 0.06 * fh * au9 - 0.025 * fh * au10
        nw = f.nose_half_w * (1 + 0.12 * au9 + 0.05 * au10)
        g["nostrils"] = np.array([[cx - 0.5 * nw, nose_y + 0.02 * fh], [cx + 0.5 * nw, nose_y + 0.02 * fh]])
        g["nose_outline"] = np.array([[cx - 0.15 * fw, f.eye_y - 0.03 * fh], [cx + 0.15 * fw, f.eye_y - 0.03 * fh],
                                      [cx - 1.15 * nw, nose_y + 0.08 * fh], [cx + 1.15 * nw, nose_y + 0.08 * fh]])
        g["nose_y"] = np.array([nose_y, nw])  # nose tip height and half width

        # Mouth: two lip polygons between four curves through the lip corners.
        my = f.mouth_y - 0.06 * fh * au17  # the chin raiser pushes the lips' centre up: an n-shaped mouth
        mw = f.mouth_half_w * (1 + 0.16 * au12 + 0.22 * au20 - 0.2 * au23 - 0.07 * au24 + 0.04 * au10)
        corner_y = (f.mouth_y - 0.12 * fh * au12 + 0.11 * fh * au15 + 0.03 * fh * au20 - 0.02 * fh * au10
                    + 0.3 * jaw + 0.02 * fh * au16)
        press = max(au23, au24)  # pressed or tightened lips cannot part
        upper_inner = my - (0.05 * fh * au25 + 0.08 * fh * au10) * (1 - press)
        lower_inner = my + (0.035 * fh * au25 + 0.9 * jaw + 0.09 * fh * au16) * (1 - press)
        lower_inner = max(lower_inner, upper_inner)
        ut = f.upper_lip * (1 - 0.65 * au24 - 0.4 * au23 + 0.15 * au10 - 0.2 * au20 - 0.15 * au12)
        lt = f.lower_lip * (1 - 0.6 * au24 - 0.35 * au23 + 0.3 * au17 + 0.1 * au16 - 0.2 * au20 - 0.1 * au12)
        g["lip_inner_upper"] = _arc(cx, mw, corner_y, upper_inner, 0.9)
        g["lip_inner_lower"] = _arc(cx, mw, corner_y, lower_inner, 0.9)
        outer_upper = _arc(cx, mw, corner_y, upper_inner - ut, 0.6)
        outer_upper[:, 1] += 0.35 * ut * _CUPIDS_BOW
        g["lip_outer_upper"] = outer_upper
        g["lip_outer_lower"] = _arc(cx, mw, corner_y, lower_inner + lt, 0.55)
        g["mouth_gap"] = np.array([lower_inner - upper_inner, au16 + au26])  # opening, lower-teeth exposure

        chin_y = cy + fh + jaw
        lip_bottom = lower_inner + lt
        g["chin_furrow"] = _arc(cx, 0.35 * mw, lip_bottom + 0.06 * fh, lip_bottom + 0.08 * fh - 0.03 * fh * au17, 1, 7)
        g["chin_outline"] = np.array([[cx - 0.8 * mw, lip_bottom], [cx + 0.8 * mw, lip_bottom],
                                      [cx - 0.35 * fw, chin_y], [cx + 0.35 * fw, chin_y]])
        g["nasolabial"] = np.stack([self._nasolabial(s, nw, nose_y, mw, corner_y) for s in (-1.0, 1.0)])
        return g

    def _nasolabial(self, s, nw, nose_y, mw, corner_y) -> np.ndarray:
        """The fold from the nose wing to beyond the lip corner; it follows the corner when the lips move."""
        cx = CENTRE[0]
        start = np.array([cx + s * 1.15 * nw, nose_y - 0.02 * self.face.half_height])
        end = np.array([cx + s * (mw + 0.12 * self.face.half_width), corner_y + 0.08 * self.face.half_height])
        control = (start + end) / 2 + np.array([s * 0.1 * self.face.half_width, 0.0])
        t = _BEZIER_T
        return (1 - t) ** 2 * start + 2 * t * (1 - t) * control + t * t * end

    # ----------------------------------------------------------------------------------------- drawing
    def _draw_static(self, rest_oval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Clothes, neck, back hair, ears, the resting oval and the hair on top of it, with the silhouette mask."""
        f = self.face
        fw, fh = f.half_width, f.half_height
        cx, cy = CENTRE
        canvas = np.zeros((CANVAS_H, CANVAS_W, 3), np.uint8)
        mask = np.zeros((CANVAS_H, CANVAS_W), np.uint8)

        def both(draw, *args, colour):
            draw(canvas, *args, colour)
            draw(mask, *args, 255)

        both(_ellipse, (cx, cy + 2.45 * fh), (2.3 * fw, 0.95 * fh), colour=f.clothes)
        neck = np.array([[cx - 0.55 * fw, cy + 0.4 * fh], [cx + 0.55 * fw, cy + 0.4 * fh],
                         [cx + 0.62 * fw, cy + 1.75 * fh], [cx - 0.62 * fw, cy + 1.75 * fh]])
        both(_fill, neck, colour=_mix(f.skin, (0, 0, 0), 0.12))
        if f.hair_style == "long":
            both(_ellipse, (cx, cy - 0.1 * fh), (1.28 * fw, 1.18 * fh), colour=f.hair)
            for s in (-1, 1):
                panel = np.array([[cx + s * 1.28 * fw, cy - 0.1 * fh], [cx + s * 0.75 * fw, cy - 0.1 * fh],
                                  [cx + s * 0.8 * fw, cy + 1.5 * fh], [cx + s * 1.3 * fw, cy + 1.45 * fh]])
                both(_fill, panel, colour=f.hair)
        elif f.hair_style == "curly":
            both(_ellipse, (cx, cy - 0.35 * fh), (1.38 * fw, 0.98 * fh), colour=f.hair)
        for s in (-1, 1):
            both(_ellipse, (cx + s * 0.97 * fw, f.eye_y + 0.15 * fh), (0.16 * fw, 0.26 * fh), colour=f.skin)
        both(_fill, rest_oval, colour=f.skin)

        hair = f.hair if f.hair_style != "buzz" else _mix(f.skin, f.hair, 0.6)
        hairline = f.hairline * fh * (0.7 if f.hair_style == "fringe" else 1.0)
        self.forehead_top = cy - 0.22 * fh - hairline
        _ellipse(canvas, (cx, cy - 0.42 * fh), (1.08 * fw, 0.68 * fh), hair, 0, 180, 360)
        for s in (-1, 1):
            sideburn = np.array([[cx + s * 0.9 * fw, cy - 0.45 * fh], [cx + s * 1.07 * fw, cy - 0.45 * fh],
                                 [cx + s * 1.0 * fw, cy - 0.08 * fh], [cx + s * 0.93 * fw, cy - 0.08 * fh]])
            _fill(canvas, sideburn, hair)
        _ellipse(canvas, (cx, cy - 0.22 * fh), (0.8 * fw, hairline), f.skin, 0, 180, 360)
        _ellipse(mask, (cx, cy - 0.42 * fh), (1.08 * fw, 0.68 * fh), 255, 0, 180, 360)
        return canvas, mask

    def _shading(self, light_side: float) -> np.ndarray:
        """A smooth multiplicative light map (uint8, 200 = unchanged) that gives the face depth."""
        f = self.face
        fw, fh = f.half_width, f.half_height
        cx, cy = CENTRE
        y, x = np.mgrid[0:CANVAS_H, 0:CANVAS_W].astype(np.float32)
        dx, dy = (x - cx) / fw, (y - cy) / fh

        def blob(x0, y0, sx, sy):
            return np.exp(-(((x - x0) / sx) ** 2 + ((y - y0) / sy) ** 2))

        shade = 1.0 + 0.16 * light_side * np.clip(dx, -1.3, 1.3) - 0.05 * dy
        shade *= 1.0 - 0.3 * np.clip(dx**2 + dy**2 - 0.45, 0.0, 1.0)  # the oval darkens towards its rim
        ew, eh = f.eye_half_w, f.eye_half_h
        for s in (-1, 1):
            ex = cx + s * f.eye_dx
            shade *= 1.0 - 0.32 * blob(ex, f.eye_y - 0.5 * eh, 1.5 * ew, 2.6 * eh)  # eye socket
            shade *= 1.0 - 0.14 * blob(cx + s * 0.24 * fw, (f.eye_y + f.nose_y) / 2, 0.09 * fw, 0.2 * fh)
            shade *= 1.0 + 0.08 * blob(ex, f.eye_y + 0.4 * fh, 0.25 * fw, 0.13 * fh)  # cheekbone
        nose_bridge = np.exp(-((dx / 0.1) ** 2)) * (y > f.eye_y - 0.05 * fh) * (y < f.nose_y)
        shade *= 1.0 + 0.12 * nose_bridge + 0.1 * blob(cx, cy - 0.55 * fh, 0.5 * fw, 0.2 * fh)
        shade *= 1.0 - 0.15 * blob(cx, f.nose_y + 0.1 * fh, 0.25 * fw, 0.05 * fh)  # under the nose
        shade *= 1.0 - 0.12 * blob(cx, f.mouth_y + 0.2 * fh, 0.3 * fw, 0.06 * fh)  # under the lower lip
        neck = np.clip((y - (cy + 0.75 * fh)) / (0.3 * fh), 0, 1) * (np.abs(dx) < 0.7)
        shade *= 1.0 - 0.35 * neck * np.exp(-np.clip(y - (cy + 1.05 * fh), 0, None) / (0.5 * fh))
        shade_u8 = np.clip(shade * 200, 0, 255).astype(np.uint8)
        return cv2.merge([shade_u8, shade_u8, shade_u8])

    def draw(self, g: dict[str, np.ndarray], au: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The shaded face canvas (BGR) and its silhouette mask for geometry ``g``; ``au`` deepens the creases."""
        f = self.face
        fw, fh = f.half_width, f.half_height
        cx, cy = CENTRE
        canvas, mask = self.base.copy(), self.base_mask.copy()
        au1, au2, au4, au6, au9, au12, au15, au17 = (float(au[AU_INDEX[name]]) for name in CREASE_AUS)
        skin = np.asarray(f.skin)

        def crease(t):  # a skin fold that deepens with intensity t
            return _mix(skin, skin * 0.45, min(1.0, t))

        lower_face = g["oval"][self._oval_angles <= np.pi]
        lower_face = np.vstack([lower_face, [[cx - fw, cy]]])
        _fill(canvas, lower_face, f.skin)
        _fill(mask, lower_face, 255)

        for side in ("l", "r"):
            upper, lower = g[f"eye_upper_{side}"], g[f"eye_lower_{side}"]
            ix, iy, ir = g[f"iris_{side}"]
            ex, ey = g[f"eye_centre_{side}"]
            ew = f.eye_half_w
            _fill(canvas, np.vstack([upper, lower[::-1]]), (205, 215, 222))
            _ellipse(canvas, (ix, iy), (ir, ir), f.iris)
            _ellipse(canvas, (ix, iy), (0.45 * ir, 0.45 * ir), (15, 15, 18))
            _ellipse(canvas, (ix + 0.3 * ir, iy - 0.35 * ir), (0.8, 0.8), (230, 235, 240))
            lid_top = ey - 2.8 * f.eye_half_h
            _fill(canvas, np.vstack([upper, [[ex + 1.35 * ew, lid_top], [ex - 1.35 * ew, lid_top]]]), f.skin)
            lid_bottom = ey + 2.2 * f.eye_half_h
            _fill(canvas, np.vstack([lower, [[ex + 1.35 * ew, lid_bottom], [ex - 1.35 * ew, lid_bottom]]]), f.skin)
            _line(canvas, g[f"eye_crease_{side}"], crease(0.5))
            _line(canvas, lower, crease(0.35))
            _line(canvas, upper, (25, 22, 24), 2)
            s = -1.0 if side == "l" else 1.0
            if au6 > 0.05:  # crow's feet at the outer corner, and the raised lower-lid bulge
                for k in (-1, 0, 1):
                    _line(canvas, np.array([[ex + s * 1.15 * ew, ey + 1.5 * k],
                                            [ex + s * 1.6 * ew, ey + 3.2 * k + 1]]), crease(0.5 * au6))
                _line(canvas, lower + [0, 0.06 * fh], crease(0.45 * au6))
            cheek_x, cheek_y, ax, ay = g[f"cheek_{side}"]
            if au6 > 0.05:
                _ellipse(canvas, (cheek_x, cheek_y), (ax, ay), _mix(skin, np.minimum(skin * 1.12 + [0, 0, 8], 255),
                                                                    min(1.0, au6)))
            _fill(canvas, g[f"brow_{side}"], f.brows)

        if max(au1, au2) > 0.05:  # horizontal forehead lines
            brow_top = min(g["brow_l"][:, 1].min(), g["brow_r"][:, 1].min())
            for k in range(3):
                y = brow_top - 0.1 * fh - k * 0.07 * fh
                if y - 0.03 * fh > self.forehead_top + 0.05 * fh:  # wrinkles stay below the hairline
                    _line(canvas, _arc(cx, 0.42 * fw, y, y - 0.03 * fh), crease(0.45 * max(au1, au2)))
        if au4 > 0.05:  # vertical furrows between the lowered brows
            top = g["brow_inner_y"].min() - 0.02 * fh
            for s in (-1, 1):
                _line(canvas, np.array([[cx + s * 0.07 * fw, top], [cx + s * 0.05 * fw, top + 0.11 * fh]]),
                      crease(0.6 * au4))

        nose_y, nw = g["nose_y"]
        for s, (nx, ny) in zip((-1, 1), g["nostrils"]):
            _ellipse(canvas, (nx, ny), (0.3 * nw, 0.13 * nw), _mix(skin, (20, 20, 30), 0.65), s * 15.0)
            wing = _arc(nx + s * 0.35 * nw, 0.25 * nw, ny + 0.1 * nw, ny - 0.35 * nw, 1, 7)
            _line(canvas, wing, crease(0.4 + 0.3 * au9))
        if au9 > 0.05:  # nose wrinkles across the bridge
            for k in range(3):
                y0 = f.eye_y + 0.02 * fh + k * 0.05 * fh
                _line(canvas, _arc(cx, 0.12 * fw, y0 + 1, y0 - 1, 1, 5), crease(0.6 * au9))
        for fold in g["nasolabial"]:
            _line(canvas, fold, crease(0.2 + 0.5 * max(au6, au12, au9)))

        gap, lower_teeth = g["mouth_gap"]
        inner_up, inner_lo = g["lip_inner_upper"], g["lip_inner_lower"]
        if gap > 0.6:
            _fill(canvas, np.vstack([inner_up, inner_lo[::-1]]), (40, 30, 75))
            teeth = inner_up[2:-2]
            _fill(canvas, np.vstack([teeth, teeth[::-1] + [0, min(0.08 * fh, 0.55 * gap)]]), (200, 215, 225))
            if lower_teeth > 0.1:
                teeth = inner_lo[3:-3]
                height = min(0.05 * fh, 0.3 * gap) * min(1.0, 2 * lower_teeth)
                _fill(canvas, np.vstack([teeth, teeth[::-1] - [0, height]]), (190, 205, 215))
        _fill(canvas, np.vstack([g["lip_outer_upper"], inner_up[::-1]]), f.lips)
        _fill(canvas, np.vstack([inner_lo, g["lip_outer_lower"][::-1]]), _mix(f.lips, skin, 0.1))
        _line(canvas, inner_up, _mix(f.lips, (0, 0, 0), 0.5))
        if au15 > 0.05:  # lines down from depressed lip corners
            for s, corner in ((-1, inner_up[0]), (1, inner_up[-1])):
                _line(canvas, np.array([corner + [s * 2, 2], corner + [s * 0.05 * fw, 0.16 * fh]]),
                      crease(0.5 * au15))
        _line(canvas, g["chin_furrow"], crease(0.25 + 0.45 * au17))
        if au17 > 0.05:  # dimpled chin boss
            chin_y = g["chin_outline"][2, 1]
            for dx in (-0.1, 0.0, 0.1):
                _ellipse(canvas, (cx + dx * fw, chin_y - 0.16 * fh), (1.2, 1.0), crease(0.5 * au17))

        canvas = cv2.multiply(canvas, self.shade, scale=1 / 200)
        return canvas, mask


REGION_PARTS = {
    "brows": ("brow_l", "brow_r"),
    "eyes": ("eye_upper_l", "eye_lower_l", "eye_upper_r", "eye_lower_r"),
    "cheeks": ("nasolabial",),
    "nose": ("nose_outline", "nostrils"),
    "mouth": ("lip_outer_upper", "lip_outer_lower"),
    "chin": ("chin_outline", "chin_furrow"),
}


def region_points(g: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canvas points whose bounding box is each region (see REGION_PARTS); cheeks add their raised apples."""
    points = {name: np.vstack([g[p].reshape(-1, 2) for p in parts]) for name, parts in REGION_PARTS.items()}
    apples = []
    for side in ("l", "r"):
        x, y, ax, ay = g[f"cheek_{side}"]
        apples += [[x - ax, y - ay], [x + ax, y + ay]]
    points["cheeks"] = np.vstack([points["cheeks"], apples])
    return points
