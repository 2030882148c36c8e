"""SimCLR's data augmentations as batched tensor operations on any device.

Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations"
(SimCLR), Appendix A: "we sequentially apply three simple augmentations: random cropping followed
by resize back to the original size, random color distortions, and random Gaussian blur."
Figure 4 lists the other operations of its ablation (cutout, Sobel filtering, Gaussian noise,
rotation), which Figure 5 composes pairwise after a crop.

Why this module exists: ``torchvision.transforms.v2`` applied to a batch draws *one* set of
random parameters for the whole batch. SimCLR needs independent parameters for every image (every
image's two views must differ, and differ differently from its neighbours'). Here every random
parameter is a tensor with one entry per sample, and every operation applies per-sample parameters
at once (masks and ``torch.where``, per-sample resampling matrices for the crops, grouped
convolutions). Nothing synchronises with the host (no ``.item()``, no ``.nonzero()``, no python
loop over samples), so the same code augments a batch kept on the GPU.

Conventions
-----------
* Input images: ``(B, C, H, W)`` with ``C`` = 1 or 3, uint8 in [0, 255] or float in [0, 1].
* Output: float32 ``(B, C, size, size)`` in [0, 1]. Normalisation (mean/std) is the model's job.
* All randomness comes from the ``torch.Generator`` passed in, which must be on the images'
  device: the same seed gives the same views.
* Every operation is split into a *sampling* function (``sample_*``: random parameters, one per
  sample) and a pure *applying* function (explicit parameter tensors in, images out), so the
  applying functions can be compared with ``torchvision.transforms.v2.functional`` sample by
  sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

OPERATIONS: tuple[str, ...] = ("crop", "flip", "color", "gray", "blur", "cutout", "sobel", "noise", "rotate")
SIMCLR_CIFAR: tuple[str, ...] = ("crop", "flip", "color", "gray")  # Appendix B.9: no blur on CIFAR-10
SIMCLR_IMAGENET: tuple[str, ...] = ("crop", "flip", "color", "gray", "blur")

# Luma weights of torchvision's rgb_to_grayscale (ITU-R 601-2, with R as 0.2989 like torchvision),
# used by grayscale, contrast and saturation so that all three match torchvision to float precision.
LUMA_WEIGHTS: tuple[float, float, float] = (0.2989, 0.587, 0.114)

# How random resized crops are drawn and resampled (ViewConfig.crop_sampler):
# - "torchvision": as torchvision's RandomResizedCrop (the SimCLR reference and lightly's SimCLRTransform use
#   it): candidate sizes rounded to whole pixels before the fit test, offsets one of the H - h + 1 (W - w + 1)
#   whole-pixel positions, the crop resampled from the pixels inside its box only (bilinear, antialiased).
# - "subpixel": this module's sampler before issue #27, kept so that the records it trained stay reproducible:
#   the fit test on unrounded sizes (smaller crops: mean area 0.477 instead of 0.491 at 32 px), offsets
#   continuous in [0, H - h] (the border pixels are covered half as often), boxes kept sub-pixel and
#   resampled with grid_sample, whose border rows blend in the pixels just outside the box.
CROP_SAMPLERS: tuple[str, ...] = ("torchvision", "subpixel")

# Largest Sobel gradient magnitude of an image in [0, 1]: |gx| = 4 forces |gy| <= 2, so sqrt(16 + 4).
SOBEL_MAX_MAGNITUDE = math.sqrt(20.0)


# ================================================================================================
# configuration
# ================================================================================================

@dataclass(frozen=True)
class ViewConfig:
    """Every knob of the augmentations, with SimCLR's defaults.

    Ranges are ``(low, high)`` pairs; lists are accepted and stored as tuples of floats.
    """

    size: int = 32                                   # side of the output views, pixels (>= 8)
    crop_scale: tuple[float, float] = (0.08, 1.0)    # crop area / image area (SimCLR: 0.08 to 1)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop width / height, sampled log-uniformly
    color_strength: float = 0.5  # s: SimCLR uses 0.5 for CIFAR-10 and 1.0 for ImageNet; in [0, 2.5]
    color_p: float = 0.8                             # probability of colour jitter
    gray_p: float = 0.2                              # probability of grayscale
    blur_p: float = 0.5                              # probability of Gaussian blur
    blur_sigma: tuple[float, float] = (0.1, 2.0)     # Gaussian blur standard deviation, pixels
    cutout_size: float = 0.5                         # side of the cutout square / image side
    noise_std: float = 0.1                           # Gaussian noise std ~ U(0, noise_std), in [0, 1] units
    flip_p: float = 0.5                              # probability of a horizontal flip
    crop_sampler: str = "torchvision"  # CROP_SAMPLERS: torchvision's whole-pixel crops, or the earlier sub-pixel ones

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in ("crop_scale", "crop_ratio", "blur_sigma"):
                value = getattr(self, f.name)
                if not isinstance(value, (tuple, list)) or len(value) != 2:
                    raise ValueError(f"ViewConfig.{f.name} must be a (low, high) pair; got {value!r}")
                object.__setattr__(self, f.name, (float(value[0]), float(value[1])))
        errors = list(_config_errors(self))
        if errors:
            raise ValueError("invalid ViewConfig: " + "; ".join(errors))


def _config_errors(c: ViewConfig):
    if isinstance(c.size, bool) or not isinstance(c.size, int) or c.size < 8:
        yield f"size must be an integer >= 8; got {c.size!r}"
    lo, hi = c.crop_scale
    if not 0 < lo <= hi <= 1:
        yield f"crop_scale must satisfy 0 < low <= high <= 1; got {c.crop_scale}"
    lo, hi = c.crop_ratio
    if not 0 < lo <= hi:
        yield f"crop_ratio must satisfy 0 < low <= high; got {c.crop_ratio}"
    if not 0 <= c.color_strength <= 2.5:
        yield (f"color_strength must be in [0, 2.5] (the hue shift 0.2 * s is a fraction of the "
               f"hue circle and at most 0.5); got {c.color_strength}")
    for name in ("color_p", "gray_p", "blur_p", "flip_p"):
        p = getattr(c, name)
        if not 0 <= p <= 1:
            yield f"{name} is a probability and must be in [0, 1]; got {p}"
    lo, hi = c.blur_sigma
    if not 0 < lo <= hi:
        yield f"blur_sigma must satisfy 0 < low <= high; got {c.blur_sigma}"
    if not 0 < c.cutout_size <= 1:
        yield f"cutout_size is a fraction of the image side and must be in (0, 1]; got {c.cutout_size}"
    if not 0 <= c.noise_std <= 1:
        yield f"noise_std must be in [0, 1]; got {c.noise_std}"
    if c.crop_sampler not in CROP_SAMPLERS:
        yield f"crop_sampler must be one of {', '.join(CROP_SAMPLERS)}; got {c.crop_sampler!r}"


# ================================================================================================
# sampling: random parameters, one per sample
# ================================================================================================

def sample_mask(batch: int, p: float, generator: torch.Generator, device: torch.device) -> Tensor:
    """Bernoulli(p) per sample: which samples a probability-``p`` operation is applied to. ``(B,)`` bool."""
    return torch.rand(batch, generator=generator, device=device) < p


def sample_uniform(batch: int, low: float, high: float, generator: torch.Generator,
                   device: torch.device) -> Tensor:
    """U(low, high) per sample. ``(B,)`` float32."""
    return low + (high - low) * torch.rand(batch, generator=generator, device=device)


def _crop_candidates(batch: int, height: int, width: int, scale: tuple[float, float],
                     ratio: tuple[float, float], generator: torch.Generator, device: torch.device,
                     attempts: int) -> tuple[Tensor, Tensor]:
    """``attempts`` candidate crop sizes per sample, as torchvision draws them: area ~ U(scale) * H * W,
    log aspect ratio ~ U(log ratio). Returns unrounded widths and heights, ``(B, A)`` float32 each."""
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    u = torch.rand(batch, attempts, 2, generator=generator, device=device)  # (B, A, 2)
    target_area = height * width * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
    return torch.sqrt(target_area * aspect), torch.sqrt(target_area / aspect)   # (B, A) each


def _first_fitting(fits: Tensor, *values: Tensor) -> tuple[Tensor, ...]:
    """Per sample, each of ``values`` ``(B, A)`` at the first candidate that ``fits`` (the first
    candidate when none does; the caller replaces those by the fallback). ``(B,)`` each."""
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)                 # (B, 1)
    return tuple(v.gather(1, first).squeeze(1) for v in values)


def sample_crop_boxes(batch: int, height: int, width: int, scale: tuple[float, float],
                      ratio: tuple[float, float], generator: torch.Generator, device: torch.device,
                      attempts: int = 10, sampler: str = "torchvision") -> Tensor:
    """Random resized crop boxes, torchvision's ``RandomResizedCrop.get_params`` per sample.

    SimCLR Appendix A: "A crop of random size (uniform from 0.08 to 1.0 in area) of the original
    size and a random aspect ratio (default: of 3/4 to 4/3 of the original aspect ratio) is made."
    Like torchvision, ``attempts`` candidates are drawn (:func:`_crop_candidates`) and the first that
    fits inside the image is kept; a sample whose candidates all fail gets torchvision's fallback, a
    central crop of the whole image with its aspect ratio clamped into ``ratio``. All candidates are
    drawn at once, so there is no rejection loop and no host synchronisation.

    ``sampler`` (:data:`CROP_SAMPLERS`): ``"torchvision"`` rounds the candidates to whole pixels
    *before* the fit test (``0 < round(w) <= W``: a candidate of 32.4 px fits a 32 px image) and draws
    the offsets from the ``H - h + 1`` whole-pixel positions, so every pixel is covered exactly as
    often as under torchvision. ``"subpixel"`` is the earlier sampler (test on unrounded sizes,
    continuous offsets in ``[0, H - h]``, sub-pixel boxes), kept for the records it trained.

    Returns ``(B, 4)`` float32 boxes ``(top, left, height, width)`` in pixels (whole numbers unless
    ``sampler="subpixel"``).
    """
    if sampler not in CROP_SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(CROP_SAMPLERS)}; got {sampler!r}")
    if sampler == "subpixel":
        return _sample_crop_boxes_subpixel(batch, height, width, scale, ratio, generator, device, attempts)
    w, h = _crop_candidates(batch, height, width, scale, ratio, generator, device, attempts)
    w, h = torch.round(w), torch.round(h)      # half to even, as python's round() in get_params
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)                  # (B, A)
    w, h = _first_fitting(fits, w, h)                                        # (B,)
    # torch.randint(0, n + 1): one of the n + 1 offsets, each with probability 1 / (n + 1)
    u = torch.rand(batch, 2, generator=generator, device=device)             # (B, 2)
    top = torch.minimum(torch.floor(u[:, 0] * (height - h + 1)), height - h)
    left = torch.minimum(torch.floor(u[:, 1] * (width - w + 1)), width - w)

    # torchvision's fallback: central crop with the aspect ratio clamped into `ratio`, in whole pixels
    in_ratio = width / height
    if in_ratio < min(ratio):
        fb_w, fb_h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fb_w, fb_h = int(round(height * max(ratio))), height
    else:
        fb_w, fb_h = width, height
    ok = fits.any(dim=1)
    h = torch.where(ok, h, torch.full_like(h, fb_h))
    w = torch.where(ok, w, torch.full_like(w, fb_w))
    top = torch.where(ok, top, torch.full_like(top, (height - fb_h) // 2))
    left = torch.where(ok, left, torch.full_like(left, (width - fb_w) // 2))
    return torch.stack([top, left, h, w], dim=1)                             # (B, 4)


def _sample_crop_boxes_subpixel(batch: int, height: int, width: int, scale: tuple[float, float],
                                ratio: tuple[float, float], generator: torch.Generator, device: torch.device,
                                attempts: int) -> Tensor:
    """The crop sampler before issue #27 (``crop_sampler="subpixel"``), unchanged draw for draw: fit
    test on the unrounded sizes, offsets continuous in ``[0, H - h]``, boxes not rounded."""
    w, h = _crop_candidates(batch, height, width, scale, ratio, generator, device, attempts)
    fits = (w <= width) & (h <= height)
    w, h = _first_fitting(fits, w, h)
    position = torch.rand(batch, 2, generator=generator, device=device)     # (B, 2)
    top = position[:, 0] * (height - h)
    left = position[:, 1] * (width - w)
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fb_w, fb_h = float(width), width / ratio[0]
    elif in_ratio > ratio[1]:
        fb_w, fb_h = height * ratio[1], float(height)
    else:
        fb_w, fb_h = float(width), float(height)
    ok = fits.any(dim=1)
    h = torch.where(ok, h, torch.full_like(h, fb_h))
    w = torch.where(ok, w, torch.full_like(w, fb_w))
    top = torch.where(ok, top, torch.full_like(top, (height - fb_h) / 2))
    left = torch.where(ok, left, torch.full_like(left, (width - fb_w) / 2))
    return torch.stack([top, left, h, w], dim=1)                             # (B, 4)


def sample_color_jitter(batch: int, strength: float, generator: torch.Generator,
                        device: torch.device) -> tuple[Tensor, Tensor]:
    """Factors and per-sample order of SimCLR's colour jitter of strength ``s``.

    SimCLR Appendix A (pseudo-code): ``ColorJitter(0.8*s, 0.8*s, 0.8*s, 0.2*s)``; its TF code
    applies the four sub-operations "in a random order" for every image. Brightness, contrast and
    saturation factors ~ U(max(0, 1 - 0.8 s), 1 + 0.8 s); hue shift ~ U(-0.2 s, 0.2 s), a fraction
    of the hue circle.

    Returns ``factors`` ``(B, 4)`` (columns: brightness, contrast, saturation, hue) and ``order``
    ``(B, 4)`` long, each row a permutation of 0..3 naming the columns in the order applied.
    """
    a, hue = 0.8 * strength, 0.2 * strength
    u = torch.rand(batch, 4, generator=generator, device=device)
    low = torch.tensor([max(0.0, 1 - a)] * 3 + [-hue], device=device)
    high = torch.tensor([1 + a] * 3 + [hue], device=device)
    factors = low + (high - low) * u                                         # (B, 4)
    order = torch.rand(batch, 4, generator=generator, device=device).argsort(dim=1)
    return factors, order


def sample_cutout_centres(batch: int, height: int, width: int, generator: torch.Generator,
                          device: torch.device) -> Tensor:
    """Centres of the cutout squares, uniform over the image. ``(B, 2)`` ``(y, x)`` in pixels."""
    u = torch.rand(batch, 2, generator=generator, device=device)
    return u * torch.tensor([float(height), float(width)], device=device)


def sample_noise(shape: Sequence[int], max_std: float, generator: torch.Generator,
                 device: torch.device) -> Tensor:
    """Gaussian noise for images of ``shape`` ``(B, C, H, W)``, std ~ U(0, max_std) per sample."""
    std = sample_uniform(shape[0], 0.0, max_std, generator, device)
    return std.view(-1, 1, 1, 1) * torch.randn(tuple(shape), generator=generator, device=device)


def sample_rot90(batch: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """Quarter turns k in {1, 2, 3} (90, 180, 270 degrees) uniformly per sample. ``(B,)`` long.

    SimCLR Figure 4: "Rotate {90°, 180°, 270°}".
    """
    return torch.randint(1, 4, (batch,), generator=generator, device=device)


# ================================================================================================
# applying: pure functions of images and explicit per-sample parameters
# ================================================================================================

def _per_sample(values: Tensor) -> Tensor:
    """``(B,)`` -> ``(B, 1, 1, 1)`` to broadcast over images."""
    return values.view(-1, 1, 1, 1)


def _where(mask: Tensor, applied: Tensor, images: Tensor) -> Tensor:
    """Per sample: ``applied`` where ``mask`` (``(B,)`` bool) is true, else ``images``."""
    return torch.where(_per_sample(mask), applied, images)


def to_float(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [0, 1]; float -> float32 (values are taken to lie in [0, 1])."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32) / 255.0
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or floating point; got dtype {images.dtype}")
    return images.to(torch.float32)


def resize(images: Tensor, size: int) -> Tensor:
    """Bilinear resize to ``size`` x ``size`` (antialiased when shrinking); a no-op at that size."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True).clamp_(0.0, 1.0)


def _resample_matrix(start: Tensor, length: Tensor, n_in: int, size: int) -> Tensor:
    """Weights of an antialiased bilinear resize of the span ``[start, start + length)`` (whole pixels,
    ``(B,)`` each) of an axis of ``n_in`` pixels to ``size`` pixels: ``(B, size, n_in)``.

    PyTorch's ``interpolate(mode="bilinear", antialias=True, align_corners=False)`` of the cropped
    span, written as a matrix over the whole axis: output pixel ``i`` has its centre at
    ``start + (i + 0.5) * s`` with ``s = length / size``; input pixel ``j`` (centre ``j + 0.5``)
    weighs ``max(0, 1 - |j + 0.5 - centre| / max(s, 1))`` (a triangle as wide as the output pixel
    when shrinking, plain bilinear when enlarging), and only the pixels inside the span weigh, the
    weights normalised to sum to 1. Pixels outside the box never contribute.
    """
    s = (length / size).unsqueeze(1)                                          # (B, 1)
    i = torch.arange(size, device=start.device, dtype=start.dtype) + 0.5      # (size,)
    centre = (start.unsqueeze(1) + i * s).unsqueeze(2)                        # (B, size, 1)
    j = torch.arange(n_in, device=start.device, dtype=start.dtype) + 0.5      # (n_in,)
    weight = (1 - (j - centre).abs() / s.clamp(min=1.0).unsqueeze(2)).clamp(min=0.0)   # (B, size, n_in)
    inside = (j >= start.view(-1, 1, 1)) & (j < (start + length).view(-1, 1, 1))
    weight = weight * inside
    return weight / weight.sum(dim=2, keepdim=True)


def resized_crop(images: Tensor, boxes: Tensor, size: int) -> Tensor:
    """Crop every image to its whole-pixel box and resize it to ``size`` x ``size``.

    ``boxes`` is ``(B, 4)`` ``(top, left, height, width)`` in whole pixels (as
    ``sample_crop_boxes`` draws them). Equals torchvision's ``resized_crop(image, top, left,
    height, width, [size, size], antialias=True)`` per sample: bilinear, antialiased when
    shrinking, from the pixels inside the box only. Two batched matrix products with per-sample
    resampling matrices (:func:`_resample_matrix`), so boxes of every size go in one batch.
    """
    _, _, height, width = images.shape
    top, left, h, w = boxes.to(images.dtype).unbind(dim=1)                   # (B,) each
    rows = _resample_matrix(top, h, height, size)                            # (B, size, H)
    cols = _resample_matrix(left, w, width, size)                            # (B, size, W)
    out = torch.einsum("bph,bchw,bqw->bcpq", rows, images, cols)              # (B, C, size, size)
    return out.clamp_(0.0, 1.0)


def resized_crop_subpixel(images: Tensor, boxes: Tensor, size: int) -> Tensor:
    """The resampling of ``crop_sampler="subpixel"`` (before issue #27), for sub-pixel boxes.

    ``boxes`` is ``(B, 4)`` ``(top, left, height, width)`` in pixels. Built from a per-sample affine
    map (``F.affine_grid`` + ``F.grid_sample``, align_corners=False), which agrees with
    torchvision's ``resized_crop(..., antialias=False)`` for whole-pixel boxes when shrinking; when
    enlarging, its outermost rows and columns blend in up to 35 % of the pixel just outside the box
    (``padding_mode="border"`` samples the whole image). No antialiasing.
    """
    b, c, height, width = images.shape
    top, left, h, w = boxes.to(images.dtype).unbind(dim=1)                   # (B,) each
    theta = torch.zeros(b, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = w / width
    theta[:, 0, 2] = (2 * left + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * top + h) / height - 1
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)    # (B, size, size, 2)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.clamp_(0.0, 1.0)                                              # (B, C, size, size)


def grayscale(images: Tensor) -> Tensor:
    """Luma (``LUMA_WEIGHTS``), replicated to the input's channels; 1-channel images unchanged."""
    if images.shape[1] == 1:
        return images
    r, g, b = images.unbind(dim=1)
    luma = LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b   # (B, H, W)
    return luma.unsqueeze(1).expand_as(images)


def _luma(images: Tensor) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, 1, H, W)``."""
    return grayscale(images)[:, :1]


def _blend(images: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    """torchvision's ``_blend``: ``factor * images + (1 - factor) * other``, clamped to [0, 1]."""
    f = _per_sample(factor)
    return (f * images + (1 - f) * other).clamp(0.0, 1.0)


def adjust_brightness(images: Tensor, factor: Tensor) -> Tensor:
    """Multiply by ``factor`` ``(B,)``; torchvision ``adjust_brightness`` per sample."""
    return (images * _per_sample(factor)).clamp(0.0, 1.0)


def adjust_contrast(images: Tensor, factor: Tensor) -> Tensor:
    """Blend with the mean of the grayscale image; torchvision ``adjust_contrast`` per sample."""
    mean = _luma(images).mean(dim=(1, 2, 3), keepdim=True)                   # (B, 1, 1, 1)
    return _blend(images, mean, factor)


def adjust_saturation(images: Tensor, factor: Tensor) -> Tensor:
    """Blend with the grayscale image; torchvision ``adjust_saturation`` (no-op for 1 channel)."""
    if images.shape[1] == 1:
        return images
    return _blend(images, _luma(images), factor)


def rgb_to_hsv(images: Tensor) -> Tensor:
    """RGB in [0, 1] -> HSV with hue as a fraction of the circle in [0, 1). Shape kept."""
    r, g, b = images.unbind(dim=1)
    minc, maxc = torch.aminmax(images, dim=1)                                # (B, H, W)
    delta = maxc - minc
    grey = delta == 0
    s = delta / torch.where(grey, torch.ones_like(maxc), maxc)
    safe = torch.where(grey, torch.ones_like(delta), delta)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(grey, torch.zeros_like(h), h)
    h = torch.remainder(h / 6.0, 1.0)
    return torch.stack([h, s, maxc], dim=1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """HSV (hue a fraction of the circle) -> RGB in [0, 1]. Shape kept.

    Channel n (R: 5, G: 3, B: 1) is ``v - v s max(0, min(k, 4 - k, 1))`` with ``k = (n + 6 h) mod 6``,
    a branch-free form of the usual six-sector formula.
    """
    h, s, v = hsv.unbind(dim=1)
    n = torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + 6.0 * h.unsqueeze(1), 6.0)                       # (B, 3, H, W)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return (v.unsqueeze(1) - (v * s).unsqueeze(1) * ramp).clamp(0.0, 1.0)


def adjust_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Rotate hue by ``shift`` ``(B,)`` (fraction of the circle); torchvision ``adjust_hue`` per sample.

    No-op for 1-channel images.
    """
    if images.shape[1] == 1:
        return images
    h, s, v = rgb_to_hsv(images).unbind(dim=1)
    h = torch.remainder(h + shift.view(-1, 1, 1), 1.0)
    return hsv_to_rgb(torch.stack([h, s, v], dim=1))


_COLOR_OPS: tuple[Callable[[Tensor, Tensor], Tensor], ...] = (
    adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def color_jitter(images: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """Brightness, contrast, saturation and hue, in a per-sample order.

    ``factors`` ``(B, 4)`` and ``order`` ``(B, 4)`` as returned by :func:`sample_color_jitter`.
    Brightness, contrast and saturation are all the blend ``clamp(f x + (1 - f) ref)`` with a
    different reference (0, the mean of the grey image, the grey image), so each of the four
    stages does one blend whose factor and reference are chosen per sample (factor 1, the
    identity, for the samples whose op at this stage is hue). Hue, the costly one, is computed
    only for the samples that use it at that stage: on the CPU by indexing that subset, on other
    devices by ``torch.where`` over the whole batch, which avoids a host synchronisation.
    Results equal applying the four torchvision functions in each sample's order.
    """
    x = images
    rgb = x.shape[1] == 3
    for stage in range(4):
        op = order[:, stage]                                                 # (B,)
        f = factors.gather(1, op.unsqueeze(1)).squeeze(1)                    # (B,) factor of this stage's op
        blend = op < 3 if rgb else op < 2                                    # 1 channel: saturation, hue no-ops
        f = torch.where(blend, f, torch.ones_like(f)).view(-1, 1, 1, 1)
        luma = _luma(x)                                                      # (B, 1, H, W)
        mean = luma.mean(dim=(1, 2, 3), keepdim=True)                        # (B, 1, 1, 1)
        o = op.view(-1, 1, 1, 1)
        ref = torch.where(o == 1, mean, torch.where(o == 2, luma, torch.zeros_like(luma)))
        x = torch.lerp(ref.expand_as(x), x, f).clamp_(0.0, 1.0)                # f x + (1 - f) ref
        if rgb:
            x = _hue_where(x, op == 3, factors[:, 3])
    return x


def _hue_where(x: Tensor, mask: Tensor, shift: Tensor) -> Tensor:
    """``adjust_hue`` on the samples in ``mask``, the others unchanged."""
    if x.device.type == "cpu":  # host synchronisation is free here: compute only the subset
        idx = mask.nonzero().squeeze(1)
        if idx.numel():
            x = x.index_copy(0, idx, adjust_hue(x.index_select(0, idx), shift.index_select(0, idx)))
        return x
    return _where(mask, adjust_hue(x, shift), x)


def blur_kernel_size(side: int) -> int:
    """Kernel size of SimCLR's blur: 10 % of the side, made odd as in SimCLR's TF code.

    Appendix A: "the kernel size is set to be 10% of the image height/width". The TF code uses
    radius ``side // 10 // 2`` and size ``2 * radius + 1``: 3 at 32 px, 23 at 224 px (at least 3).
    """
    return max(3, 2 * (side // 10 // 2) + 1)


def gaussian_blur(images: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Separable Gaussian blur with a per-sample ``sigma`` ``(B,)`` and reflect padding.

    Matches torchvision ``gaussian_blur(image, [k, k], [sigma, sigma])`` per sample. Implemented as
    two grouped 1-D convolutions over the ``B * C`` channels of a single "image".
    """
    b, c, height, width = images.shape
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and >= 1; got {kernel_size}")
    radius = kernel_size // 2
    if radius >= min(height, width):
        raise ValueError(f"kernel_size {kernel_size} too large for reflect padding of a "
                         f"{height}x{width} image (needs kernel_size // 2 < min(H, W))")
    x = torch.arange(kernel_size, device=images.device, dtype=images.dtype) - radius
    kernel = torch.exp(-0.5 * (x / sigma.to(images.dtype).view(-1, 1)) ** 2)  # (B, K)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    kernel = kernel.repeat_interleave(c, dim=0)                              # (B*C, K)
    flat = images.reshape(1, b * c, height, width)
    flat = F.pad(flat, (radius, radius, 0, 0), mode="reflect")
    flat = F.conv2d(flat, kernel.view(b * c, 1, 1, kernel_size), groups=b * c)
    flat = F.pad(flat, (0, 0, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(b * c, 1, kernel_size, 1), groups=b * c)
    return flat.view(b, c, height, width).clamp_(0.0, 1.0)


def cutout(images: Tensor, centres: Tensor, side: float) -> Tensor:
    """Set a ``side`` x ``side`` pixel square around each centre ``(B, 2)`` ``(y, x)`` to zero.

    A pixel is cut when its centre lies strictly inside the square; the square is clipped at the
    borders (DeVries & Taylor 2017). Zero (black), not the image mean: the simpler choice, and the
    mask stays visible after colour jitter.
    """
    _, _, height, width = images.shape
    ys = torch.arange(height, device=images.device, dtype=images.dtype) + 0.5
    xs = torch.arange(width, device=images.device, dtype=images.dtype) + 0.5
    cy, cx = centres.to(images.dtype).unbind(dim=1)                          # (B,)
    inside_y = (ys.view(1, -1) - cy.view(-1, 1)).abs() < side / 2            # (B, H)
    inside_x = (xs.view(1, -1) - cx.view(-1, 1)).abs() < side / 2            # (B, W)
    cut = inside_y.unsqueeze(2) & inside_x.unsqueeze(1)                      # (B, H, W)
    return images.masked_fill(cut.unsqueeze(1), 0.0)


def sobel(images: Tensor) -> Tensor:
    """Sobel gradient magnitude of the grayscale image, replicated to the input's channels.

    Divided by the largest magnitude possible for images in [0, 1] (``SOBEL_MAX_MAGNITUDE``,
    sqrt(20)), a fixed scale rather than a per-image maximum, so a flat image stays black and the
    map's contrast says how strong its edges are. Reflect padding keeps the size.
    """
    c = images.shape[1]
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      device=images.device, dtype=images.dtype)
    kernels = torch.stack([gx, gx.t()]).unsqueeze(1)                         # (2, 1, 3, 3)
    luma = F.pad(_luma(images), (1, 1, 1, 1), mode="reflect")               # (B, 1, H+2, W+2)
    grad = F.conv2d(luma, kernels)                                           # (B, 2, H, W)
    magnitude = grad.pow(2).sum(dim=1, keepdim=True).sqrt() / SOBEL_MAX_MAGNITUDE
    return magnitude.clamp(0.0, 1.0).expand(-1, c, -1, -1).contiguous()


def add_noise(images: Tensor, noise: Tensor) -> Tensor:
    """Add ``noise`` (same shape) and clamp to [0, 1]."""
    return (images + noise).clamp(0.0, 1.0)


def rot90(images: Tensor, k: Tensor) -> Tensor:
    """Rotate every square image by ``k`` ``(B,)`` quarter turns, as ``torch.rot90(x, k, (-2, -1))``."""
    height, width = images.shape[-2:]
    if height != width:
        raise ValueError(f"rot90 needs square images to keep the batch's shape; got {height}x{width}")
    k = torch.remainder(k, 4)
    out = images
    for turns in (1, 2, 3):
        out = _where(k == turns, torch.rot90(images, turns, dims=(-2, -1)), out)
    return out


# ================================================================================================
# pipeline
# ================================================================================================

def _crop(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    boxes = sample_crop_boxes(x.shape[0], x.shape[2], x.shape[3], c.crop_scale, c.crop_ratio, g, x.device,
                              sampler=c.crop_sampler)
    resample = resized_crop_subpixel if c.crop_sampler == "subpixel" else resized_crop
    return resample(x, boxes, c.size)


def _flip(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    return _where(sample_mask(x.shape[0], c.flip_p, g, x.device), x.flip(-1), x)


def _color(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    factors, order = sample_color_jitter(x.shape[0], c.color_strength, g, x.device)
    apply = sample_mask(x.shape[0], c.color_p, g, x.device)
    if x.device.type == "cpu":  # as in _hue_where: compute only the samples that are distorted
        idx = apply.nonzero().squeeze(1)
        return x.index_copy(0, idx, color_jitter(x.index_select(0, idx), factors[idx], order[idx]))
    return _where(apply, color_jitter(x, factors, order), x)


def _gray(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    return _where(sample_mask(x.shape[0], c.gray_p, g, x.device), grayscale(x), x)


def _blur(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    sigma = sample_uniform(x.shape[0], c.blur_sigma[0], c.blur_sigma[1], g, x.device)
    apply = sample_mask(x.shape[0], c.blur_p, g, x.device)
    return _where(apply, gaussian_blur(x, sigma, blur_kernel_size(x.shape[-1])), x)


def _cutout(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    centres = sample_cutout_centres(x.shape[0], x.shape[2], x.shape[3], g, x.device)
    return cutout(x, centres, c.cutout_size * x.shape[-1])


def _sobel(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    return sobel(x)


def _noise(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    return add_noise(x, sample_noise(x.shape, c.noise_std, g, x.device))


def _rotate(x: Tensor, c: ViewConfig, g: torch.Generator) -> Tensor:
    return rot90(x, sample_rot90(x.shape[0], g, x.device))


_APPLY: dict[str, Callable[[Tensor, ViewConfig, torch.Generator], Tensor]] = {
    "crop": _crop, "flip": _flip, "color": _color, "gray": _gray, "blur": _blur,
    "cutout": _cutout, "sobel": _sobel, "noise": _noise, "rotate": _rotate,
}
assert tuple(_APPLY) == OPERATIONS


class ViewPipeline:
    """A sequence of augmentations applied in the given order, with independent random
    parameters for every sample.

    ``crop`` must come first (a random resized crop to ``config.size``); without it the images
    are resized to ``config.size`` first. Probabilistic operations: ``flip`` (``flip_p``),
    ``color`` (``color_p``), ``gray`` (``gray_p``), ``blur`` (``blur_p``); ``cutout``, ``sobel``,
    ``noise`` and ``rotate`` apply to every sample (Figure 4's ablation operations).
    """

    def __init__(self, ops: Sequence[str], config: ViewConfig = ViewConfig()):
        if isinstance(ops, str):
            raise ValueError(f"ops must be a sequence of operation names, not the string {ops!r}; "
                             f"e.g. {SIMCLR_CIFAR}")
        ops = tuple(ops)
        for op in ops:
            if op not in OPERATIONS:
                raise ValueError(f"unknown view operation {op!r}; allowed: {', '.join(OPERATIONS)}")
        duplicates = sorted({op for op in ops if ops.count(op) > 1})
        if duplicates:
            raise ValueError(f"view operation(s) listed twice: {', '.join(duplicates)} in {ops}")
        if "crop" in ops and ops[0] != "crop":
            raise ValueError(f"crop must be the first view operation (it sets the size); got {ops}")
        if not isinstance(config, ViewConfig):
            raise ValueError(f"config must be a ViewConfig; got {type(config).__name__}")
        self.ops = ops
        self.config = config

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        """``(B, C, H, W)`` uint8 or float in [0, 1] -> ``(B, C, size, size)`` float32 in [0, 1]."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must be (B, C, H, W) with C = 1 or 3; got shape {tuple(images.shape)}")
        if generator.device.type != images.device.type:
            raise ValueError(f"generator is on {generator.device} but images are on {images.device}; "
                             f"create it with torch.Generator(device=images.device)")
        x = to_float(images)
        if self.ops[:1] != ("crop",):
            x = resize(x, self.config.size)                                  # (B, C, size, size)
        for op in self.ops:
            x = _APPLY[op](x, self.config, generator)
        return x

    def __repr__(self) -> str:
        return f"ViewPipeline(ops={self.ops}, config={self.config})"


def paired_views(images: Tensor, pipeline1: ViewPipeline, pipeline2: ViewPipeline,
                 generator: torch.Generator) -> Tensor:
    """Both views of a batch of B images as one (2B, C, S, S) batch: first views, then second views.

    SimCLR Section 2.1: "two separate data augmentation operators are sampled from the same family
    of augmentations and applied to each data example to obtain two correlated views". When both
    branches use the same pipeline (``pipeline2 is pipeline1``, the usual case), the two views are
    drawn in one pass over the doubled batch: every one of the 2B samples still gets its own random
    parameters, and the pipeline's kernels are launched once instead of twice, which is what bounds
    an augmentation of small images on a GPU (measured on the H200: about 8.5 ms per call at batch
    512 and at batch 2048 alike).
    """
    if pipeline1 is pipeline2:
        return pipeline1(torch.cat([images, images]), generator)                 # (2B, C, S, S)
    return torch.cat([pipeline1(images, generator), pipeline2(images, generator)])


def two_views(images: Tensor, pipeline1: ViewPipeline, pipeline2: ViewPipeline,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two independently augmented views of every image (``pipeline2`` may be ``pipeline1``), as
    the two halves of :func:`paired_views`."""
    first, second = paired_views(images, pipeline1, pipeline2, generator).chunk(2)
    return first, second
