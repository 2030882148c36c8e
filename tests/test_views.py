"""Tests of lib/views.py: batched SimCLR augmentations against torchvision, applied per sample."""

import math

import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.v2.functional as TF
from scipy import stats

from lib import views
from lib.views import OPERATIONS, SIMCLR_CIFAR, SIMCLR_IMAGENET, ViewConfig, ViewPipeline


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def images(b=6, c=3, h=16, w=16, seed=0):
    return torch.rand(b, c, h, w, generator=gen(seed))


def per_sample(fn, x, params):
    """torchvision reference: ``fn(x[i], params[i])`` for each sample."""
    return torch.stack([fn(x[i], float(params[i])) for i in range(x.shape[0])])


# ---- pipeline contract ------------------------------------------------------------------------

@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("ops", [(op,) for op in OPERATIONS] + [SIMCLR_IMAGENET, OPERATIONS])
def test_every_op_keeps_dtype_shape_and_range(ops, c):
    x = images(b=16, c=c, h=20, w=12)  # not square and not the target size: crop/resize handle it
    out = ViewPipeline(ops, ViewConfig(size=16))(x, gen())
    assert out.dtype == torch.float32
    assert out.shape == (16, c, 16, 16)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.isfinite(out).all()


def test_uint8_input_equals_float_input():
    x = (images(b=4) * 255).round().to(torch.uint8)
    pipe = ViewPipeline(SIMCLR_IMAGENET, ViewConfig(size=12))
    out_u8 = pipe(x, gen(3))
    out_f = pipe(x.float() / 255, gen(3))
    assert out_u8.dtype == torch.float32
    torch.testing.assert_close(out_u8, out_f)


def test_same_seed_same_views_other_seed_other_views():
    x = images()
    pipe = ViewPipeline(SIMCLR_CIFAR, ViewConfig(size=16))
    torch.testing.assert_close(pipe(x, gen(1)), pipe(x, gen(1)), rtol=0, atol=0)
    assert not torch.allclose(pipe(x, gen(1)), pipe(x, gen(2)))


def test_identical_images_in_a_batch_get_different_crops():
    x = images(b=1).expand(2, -1, -1, -1)
    out = ViewPipeline(("crop",), ViewConfig(size=16))(x, gen())
    assert (out[0] - out[1]).abs().max() > 1e-3


def test_two_views_differ_and_keep_shape():
    x = images(b=3)
    pipe = ViewPipeline(SIMCLR_CIFAR, ViewConfig(size=16))
    v1, v2 = views.two_views(x, pipe, pipe, gen())
    assert v1.shape == v2.shape == (3, 3, 16, 16)
    assert ((v1 - v2).flatten(1).abs().amax(dim=1) > 1e-3).all()


def test_paired_views_of_one_pipeline_draw_every_sample_independently():
    x = images(b=4)
    pipe = ViewPipeline(SIMCLR_CIFAR, ViewConfig(size=16))
    both = views.paired_views(x, pipe, pipe, gen(7))
    assert both.shape == (8, 3, 16, 16)
    # one pass over the doubled batch is exactly the pipeline applied to [x; x] with the same stream
    assert torch.equal(both, pipe(torch.cat([x, x]), gen(7)))
    assert torch.equal(both, views.paired_views(x, pipe, pipe, gen(7)))           # same seed, same views
    assert ((both[:4] - both[4:]).flatten(1).abs().amax(dim=1) > 1e-3).all()    # views of an image differ
    v1, v2 = views.two_views(x, pipe, pipe, gen(7))
    assert torch.equal(v1, both[:4]) and torch.equal(v2, both[4:])


def test_paired_views_of_two_pipelines_apply_each_to_its_branch():
    x = images(b=3)
    first, second = ViewPipeline(("crop",), ViewConfig(size=16)), ViewPipeline((), ViewConfig(size=16))
    both = views.paired_views(x, first, second, gen(3))
    g = gen(3)
    assert torch.equal(both, torch.cat([first(x, g), second(x, g)]))
    assert torch.equal(both[3:], second(x, gen()))                                # the identity branch


def test_without_crop_images_are_resized_or_kept():
    x = images(h=16, w=16)
    torch.testing.assert_close(ViewPipeline((), ViewConfig(size=16))(x, gen()), x, rtol=0, atol=0)
    out = ViewPipeline((), ViewConfig(size=8))(x, gen())
    assert out.shape == (6, 3, 8, 8)
    # a constant image stays constant through the resize
    torch.testing.assert_close(ViewPipeline((), ViewConfig(size=8))(torch.full((1, 3, 16, 16), 0.3), gen()),
                               torch.full((1, 3, 8, 8), 0.3))


def test_ops_run_in_the_given_order():
    x = images(b=4)
    a = ViewPipeline(("flip", "sobel"), ViewConfig(size=16, flip_p=1.0))(x, gen())
    b = ViewPipeline(("sobel", "flip"), ViewConfig(size=16, flip_p=1.0))(x, gen())
    # flip and sobel commute; gray then noise vs noise then gray do not
    torch.testing.assert_close(a, b)
    c = ViewPipeline(("noise", "gray"), ViewConfig(size=16, gray_p=1.0))(x, gen())
    d = ViewPipeline(("gray", "noise"), ViewConfig(size=16, gray_p=1.0))(x, gen())
    assert torch.equal(c[:, 0], c[:, 1])          # gray last: channels equal
    assert not torch.equal(d[:, 0], d[:, 1])      # noise last: channels differ


# ---- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("ops, match", [
    (("crop", "sparkle"), "sparkle"),
    (("crop", "flip", "flip"), "flip"),
    (("flip", "crop"), "crop"),
    ("crop", "string"),
])
def test_bad_op_lists_raise(ops, match):
    with pytest.raises(ValueError, match=match):
        ViewPipeline(ops)


def test_unknown_op_message_lists_operations():
    with pytest.raises(ValueError, match="allowed: crop, flip, color"):
        ViewPipeline(("blurr",))


@pytest.mark.parametrize("field, value", [
    ("size", 4), ("size", 16.0), ("crop_scale", (0.5, 0.1)), ("crop_scale", (0.0, 1.0)),
    ("crop_scale", (0.1, 1.5)), ("crop_ratio", (0.0, 1.0)), ("crop_ratio", (2.0, 1.0)),
    ("color_strength", -0.1), ("color_strength", 3.0), ("color_p", 1.1), ("gray_p", -0.1),
    ("blur_p", 2.0), ("flip_p", -1.0), ("blur_sigma", (0.0, 1.0)), ("blur_sigma", (1.0,)),
    ("cutout_size", 0.0), ("cutout_size", 1.5), ("noise_std", -0.1),
])
def test_bad_config_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ViewConfig(**{field: value})


def test_config_accepts_lists_as_pairs():
    assert ViewConfig(crop_scale=[0.2, 1]).crop_scale == (0.2, 1.0)


def test_bad_images_raise():
    pipe = ViewPipeline(SIMCLR_CIFAR)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        pipe(torch.rand(2, 4, 8, 8), gen())
    with pytest.raises(ValueError, match="dtype"):
        pipe(torch.ones(2, 3, 8, 8, dtype=torch.int64), gen())
    with pytest.raises(ValueError, match="square"):
        views.rot90(torch.rand(2, 3, 8, 6), torch.tensor([1, 2]))


# ---- crop ---------------------------------------------------------------------------------------

def test_crop_of_whole_image_at_target_size_is_identity():
    x = images(h=16, w=16)
    out = ViewPipeline(("crop",), ViewConfig(size=16, crop_scale=(1, 1), crop_ratio=(1, 1)))(x, gen())
    torch.testing.assert_close(out, x, rtol=0, atol=1e-5)


# boxes (top, left, height, width) of a 20x24 image: the whole image, inner boxes, boxes on each border and in
# the corners, one row/column tall or wide
BOXES = torch.tensor([[0.0, 0.0, 20.0, 24.0], [2.0, 3.0, 16.0, 12.0], [5.0, 10.0, 14.0, 14.0], [0.0, 0.0, 5.0, 7.0],
                      [15.0, 17.0, 5.0, 7.0], [3.0, 0.0, 17.0, 24.0], [0.0, 20.0, 9.0, 4.0], [19.0, 0.0, 1.0, 24.0],
                      [0.0, 23.0, 20.0, 1.0]])


@pytest.mark.parametrize("size", [8, 14, 20, 32])  # shrinking, mixed, (mostly) growing, growing every box
def test_resized_crop_matches_torchvision_antialiased_for_whole_pixel_boxes(size):
    """Per sample, torchvision's ``resized_crop(..., antialias=True)`` (its default, and what
    RandomResizedCrop does), whether the box is shrunk or enlarged, on the border rows too."""
    x = images(b=len(BOXES), h=20, w=24)
    out = views.resized_crop(x, BOXES, size)
    ref = torch.stack([TF.resized_crop(x[i], *[int(v) for v in BOXES[i]], size=[size, size], antialias=True)
                       for i in range(len(BOXES))])
    torch.testing.assert_close(out, ref.clamp(0, 1), rtol=0, atol=2e-6)


def test_resized_crop_samples_only_inside_the_box():
    """Pixels outside the box never reach the view: an image that is 1 outside the box and 0 inside gives
    a black view, at every size, including the outermost rows of an enlarged crop (the sub-pixel
    resampler's border padding blended up to 35 % of the pixel beyond the box into them)."""
    x = torch.ones(len(BOXES), 1, 20, 24)
    for i, (top, left, h, w) in enumerate(BOXES.long().tolist()):
        x[i, :, top:top + h, left:left + w] = 0.0
    for size in (8, 32, 61):
        assert views.resized_crop(x, BOXES, size).max() == 0.0, size
    # the legacy resampler does blend in the outside pixels (why crop_sampler="subpixel" differs)
    assert views.resized_crop_subpixel(x[1:3], BOXES[1:3], 32).amax() > 0.3


def test_subpixel_resampler_matches_torchvision_unantialiased_when_shrinking():
    x = images(b=3, h=20, w=24)
    boxes = BOXES[:3]
    out = views.resized_crop_subpixel(x, boxes, 8)
    ref = torch.stack([TF.resized_crop(x[i], *[int(v) for v in boxes[i]], size=[8, 8], antialias=False)
                       for i in range(3)])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_crop_boxes_are_whole_pixel_boxes_inside_the_image_with_sampled_area_and_ratio():
    h, w = 30, 40
    boxes = views.sample_crop_boxes(2000, h, w, (0.08, 1.0), (3 / 4, 4 / 3), gen(), torch.device("cpu"))
    assert (boxes == boxes.round()).all()                                   # whole pixels
    top, left, bh, bw = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (bh >= 1).all() and (bw >= 1).all()
    assert (top + bh <= h).all() and (left + bw <= w).all()
    # the unrounded candidate had area in [0.08, 1] and ratio in [3/4, 4/3]; rounding moves each side by <= 0.5 px
    lo_w, hi_w, lo_h, hi_h = bw - 0.5, bw + 0.5, bh - 0.5, bh + 0.5
    assert (hi_w * hi_h >= 0.08 * h * w).all() and (lo_w * lo_h <= h * w).all()
    assert (hi_w / lo_h >= 3 / 4).all() and (lo_w / hi_h <= 4 / 3).all()
    assert (bh * bw / (h * w)).std() > 0.1 and (bw / bh).std() > 0.05      # not all the same box


def test_subpixel_crop_boxes_lie_inside_the_image_with_sampled_area_and_ratio():
    h, w = 30, 40
    boxes = views.sample_crop_boxes(2000, h, w, (0.08, 1.0), (3 / 4, 4 / 3), gen(), torch.device("cpu"),
                                    sampler="subpixel")
    top, left, bh, bw = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + bh <= h + 1e-4).all() and (left + bw <= w + 1e-4).all()
    area = bh * bw / (h * w)
    assert (area >= 0.08 - 1e-5).all() and (area <= 1 + 1e-5).all()
    ratio = bw / bh
    assert (ratio >= 3 / 4 - 1e-5).all() and (ratio <= 4 / 3 + 1e-5).all()
    assert (boxes != boxes.round()).any()                                   # sub-pixel


def test_a_candidate_fits_when_its_rounded_size_fits():
    """torchvision tests ``round(w) <= W``: at area 1 and aspect 1.02 the candidate is 32.3 x 31.7 px, which
    rounds to the whole 32 x 32 image. Testing the unrounded 32.3 rejected every candidate, so the
    sampler fell back to a central 32 x 31.4 crop instead."""
    boxes = views.sample_crop_boxes(50, 32, 32, (1.0, 1.0), (1.02, 1.02), gen(), torch.device("cpu"))
    torch.testing.assert_close(boxes, torch.tensor([0.0, 0.0, 32.0, 32.0]).expand(50, 4))
    torch.manual_seed(0)
    assert T.RandomResizedCrop.get_params(torch.zeros(1, 32, 32), [1.0, 1.0], [1.02, 1.02]) == (0, 0, 32, 32)


def test_crop_offsets_are_uniform_over_the_whole_pixel_positions():
    """A 16 px crop of a 32 px side starts at one of the 17 offsets 0 .. 16, each with probability 1/17."""
    boxes = views.sample_crop_boxes(17000, 32, 32, (0.25, 0.25), (1.0, 1.0), gen(), torch.device("cpu"))
    assert (boxes[:, 2:] == 16).all()
    for offsets in (boxes[:, 0], boxes[:, 1]):
        counts = torch.bincount(offsets.long(), minlength=17)
        assert len(counts) == 17 and counts.min() > 0
        assert stats.chisquare(counts.numpy()).pvalue > 1e-4


@pytest.mark.parametrize("h, w, scale, ratio", [
    (10, 40, (0.9, 1.0), (3 / 4, 4 / 3)),   # too wide: the crop's ratio clamped to 4/3
    (40, 10, (0.9, 1.0), (3 / 4, 4 / 3)),   # too tall: clamped to 3/4
    (21, 20, (1.0, 1.0), (2.0, 3.0)),       # too tall for the range: 10 high, 20 wide, its top at (21 - 10) // 2
    (20, 21, (1.0, 1.0), (0.96, 1.0)),      # image ratio 1.05 above the range: a 20 x 20 crop, centred
])
def test_crop_falls_back_to_torchvisions_central_crop(h, w, scale, ratio):
    """When no candidate fits, torchvision's fallback: the whole image with its ratio clamped into
    ``ratio``, in whole pixels, centred with floor division (all candidates fail in these set-ups)."""
    boxes = views.sample_crop_boxes(5, h, w, scale, ratio, gen(), torch.device("cpu"))
    torch.manual_seed(0)
    expected = T.RandomResizedCrop.get_params(torch.zeros(1, h, w), list(scale), list(ratio))
    torch.testing.assert_close(boxes, torch.tensor(expected, dtype=torch.float32).expand(5, 4))


def test_subpixel_sampler_draws_what_the_sampler_before_27_drew():
    """The records before issue #27 stay reproducible: ``sampler="subpixel"`` gives, draw for draw, the boxes
    the earlier code gave at this seed (values printed by lib/views.py at commit ac86cf9)."""
    boxes = views.sample_crop_boxes(2, 32, 32, (0.08, 1.0), (3 / 4, 4 / 3), gen(1), torch.device("cpu"),
                                    sampler="subpixel")
    expected = torch.tensor([[1.925209403038025, 1.5944331884384155, 30.05653953552246, 26.47242546081543],
                             [9.454901695251465, 7.177159309387207, 21.193933486938477, 17.813671112060547]])
    torch.testing.assert_close(boxes, expected, rtol=0, atol=1e-6)


def test_subpixel_crop_falls_back_to_an_unrounded_central_crop():
    boxes = views.sample_crop_boxes(5, 10, 40, (0.9, 1.0), (3 / 4, 4 / 3), gen(), torch.device("cpu"),
                                    sampler="subpixel")
    expected = torch.tensor([0.0, (40 - 10 * 4 / 3) / 2, 10.0, 10 * 4 / 3]).expand(5, 4)
    torch.testing.assert_close(boxes, expected)


def test_crop_sampler_is_checked():
    with pytest.raises(ValueError, match="crop_sampler must be one of torchvision, subpixel"):
        ViewConfig(crop_sampler="tv")
    with pytest.raises(ValueError, match="sampler must be one of"):
        views.sample_crop_boxes(2, 8, 8, (0.5, 1.0), (1.0, 1.0), gen(), torch.device("cpu"), sampler="tv")


@pytest.mark.parametrize("sampler", views.CROP_SAMPLERS)
def test_pipeline_crops_with_the_configured_sampler(sampler):
    """The pipeline's crop is the sampler's boxes resampled by the sampler's resampler, draw for draw."""
    x = images(b=32, h=20, w=24)
    out = ViewPipeline(("crop",), ViewConfig(size=16, crop_sampler=sampler))(x, gen(3))
    boxes = views.sample_crop_boxes(32, 20, 24, (0.08, 1.0), (3 / 4, 4 / 3), gen(3), torch.device("cpu"),
                                    sampler=sampler)
    resample = views.resized_crop if sampler == "torchvision" else views.resized_crop_subpixel
    torch.testing.assert_close(out, resample(x, boxes, 16), rtol=0, atol=0)


# ---- flip, rotation -----------------------------------------------------------------------------

def test_flip_is_exact_for_flipped_samples():
    x = images(b=64, h=8, w=8)
    out = ViewPipeline(("flip",), ViewConfig(size=8))(x, gen())
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert (flipped | kept).all()
    assert flipped.any() and kept.any()


def test_rot90_matches_torch_rot90_per_sample():
    x = images(b=8, h=8, w=8)
    k = torch.tensor([0, 1, 2, 3, 3, 2, 1, 5])
    ref = torch.stack([torch.rot90(x[i], int(k[i]), dims=(-2, -1)) for i in range(8)])
    torch.testing.assert_close(views.rot90(x, k), ref, rtol=0, atol=0)


def test_rotate_uses_only_quarter_turns_1_2_3():
    k = views.sample_rot90(3000, gen(), torch.device("cpu"))
    counts = torch.bincount(k, minlength=4)
    assert counts[0] == 0
    assert ((counts[1:] / 3000 - 1 / 3).abs() < 0.04).all()


# ---- colour -------------------------------------------------------------------------------------

@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("ours, theirs, low, high, atol", [
    (views.adjust_brightness, TF.adjust_brightness, 0.2, 1.8, 1e-6),
    (views.adjust_contrast, TF.adjust_contrast, 0.2, 1.8, 1e-5),
    (views.adjust_saturation, TF.adjust_saturation, 0.0, 1.8, 1e-5),
    (views.adjust_hue, TF.adjust_hue, -0.5, 0.5, 2e-5),
])
def test_colour_sub_ops_match_torchvision_per_sample(ours, theirs, low, high, atol, c):
    x = images(b=8, c=c, h=8, w=8)
    x[0] = 0.5  # grey image: hue undefined
    x[1, :, :4] = 1.0  # saturated pixels get clamped
    x[2, 0] = 0.0  # a zero channel (HSV's edge case min = 0 < max)
    x[3, :, 0, :3] = torch.eye(3)[:c]  # pure red, green, blue pixels
    factor = torch.linspace(low, high, 8)
    torch.testing.assert_close(ours(x, factor), per_sample(theirs, x, factor), rtol=0, atol=atol)


def test_color_jitter_applies_sub_ops_in_each_samples_order():
    x = images(b=6, h=8, w=8)
    factors, order = views.sample_color_jitter(6, 1.0, gen(), torch.device("cpu"))
    order[0] = torch.tensor([0, 1, 2, 3])
    order[1] = torch.tensor([3, 2, 1, 0])
    out = views.color_jitter(x, factors, order)
    tv_ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    for i in range(6):
        ref = x[i]
        for j in order[i].tolist():
            ref = tv_ops[j](ref, float(factors[i, j]))
        torch.testing.assert_close(out[i], ref, rtol=0, atol=3e-5)


def test_color_jitter_params_ranges_and_orders():
    factors, order = views.sample_color_jitter(4000, 0.5, gen(), torch.device("cpu"))
    assert factors[:, :3].min() >= 0.6 and factors[:, :3].max() <= 1.4
    assert factors[:, 3].abs().max() <= 0.1
    assert (order.sort(dim=1).values == torch.arange(4)).all()     # permutations
    assert len({tuple(r) for r in order.tolist()}) == 24            # every order occurs
    assert factors[:, 0].min() < 0.62 and factors[:, 3].max() > 0.098


def test_grayscale_matches_torchvision():
    x = images(b=4)
    ref = TF.rgb_to_grayscale(x, num_output_channels=3)
    torch.testing.assert_close(views.grayscale(x), ref, rtol=0, atol=1e-6)
    g = images(b=4, c=1)
    torch.testing.assert_close(views.grayscale(g), g)


# ---- blur, sobel, cutout, noise -----------------------------------------------------------------

def test_blur_kernel_size_is_ten_percent_and_odd():
    assert views.blur_kernel_size(32) == 3
    assert views.blur_kernel_size(96) == 9
    assert views.blur_kernel_size(224) == 23
    assert views.blur_kernel_size(8) == 3


@pytest.mark.parametrize("c, kernel_size", [(3, 3), (1, 5), (3, 7)])
def test_gaussian_blur_matches_torchvision_per_sample(c, kernel_size):
    x = images(b=5, c=c, h=12, w=10)
    sigma = torch.tensor([0.1, 0.5, 1.0, 1.7, 2.0])
    ref = torch.stack([TF.gaussian_blur(x[i], [kernel_size, kernel_size], [float(sigma[i])] * 2)
                       for i in range(5)])
    torch.testing.assert_close(views.gaussian_blur(x, sigma, kernel_size), ref, rtol=0, atol=1e-5)


def test_gaussian_blur_rejects_bad_kernel_sizes():
    with pytest.raises(ValueError, match="kernel_size"):
        views.gaussian_blur(images(), torch.ones(6), 4)
    with pytest.raises(ValueError, match="kernel_size"):
        views.gaussian_blur(images(h=4, w=4), torch.ones(6), 9)


def test_sobel_of_flat_image_is_zero_and_of_step_edge_is_analytic():
    flat = torch.full((1, 3, 8, 8), 0.7)
    torch.testing.assert_close(views.sobel(flat), torch.zeros(1, 3, 8, 8))
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0
    out = views.sobel(step)
    # columns 3 and 4 straddle the edge: |gx| = 1 + 2 + 1 = 4; elsewhere 0
    expected = torch.zeros(1, 1, 8, 8)
    expected[..., 3:5] = 4 / math.sqrt(20)
    torch.testing.assert_close(out, expected)


def test_cutout_zeroes_a_square_clipped_at_the_border():
    x = torch.ones(2, 3, 16, 16)
    centres = torch.tensor([[8.0, 8.0], [0.0, 16.0]])
    out = views.cutout(x, centres, 8.0)
    assert (out[0, :, 4:12, 4:12] == 0).all() and out[0].sum() == 3 * (256 - 64)
    assert (out[1, :, :4, 12:] == 0).all() and out[1].sum() == 3 * (256 - 16)


def test_noise_has_the_sampled_spread():
    noise = views.sample_noise((2000, 1, 16, 16), 0.1, gen(), torch.device("cpu"))
    std = noise.flatten(1).std(dim=1)                      # one std per sample, ~ U(0, 0.1)
    assert std.max() < 0.125 and std.min() < 0.01
    assert abs(noise.std() - 0.1 / math.sqrt(3)) < 0.005   # E[std^2] = max^2 / 3
    x = torch.full((2, 1, 4, 4), 0.5)
    torch.testing.assert_close(views.add_noise(x, torch.zeros_like(x)), x)


# ---- probabilities ------------------------------------------------------------------------------

@pytest.mark.parametrize("op, p_field, p", [
    ("flip", "flip_p", 0.5), ("color", "color_p", 0.8), ("gray", "gray_p", 0.2), ("blur", "blur_p", 0.5),
])
def test_probabilistic_ops_apply_to_about_p_of_a_batch(op, p_field, p):
    x = images(b=4000, h=8, w=8)
    config = ViewConfig(size=8, blur_sigma=(1.0, 2.0), **{p_field: p})
    out = ViewPipeline((op,), config)(x, gen())
    changed = ((out - x).flatten(1).abs().amax(1) > 1e-4).float().mean()
    assert abs(changed - p) < 0.04, (op, changed)
