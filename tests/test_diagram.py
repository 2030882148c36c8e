"""lib.report.diagram: the SimCLR figure of the README is drawn by code, the same way every time."""

import numpy as np
import pytest
from PIL import Image

from lib.report import diagram
from lib.config import repo_path


def test_writes_a_valid_png_of_the_expected_size_and_the_same_bytes_each_time(tmp_path):
    first = diagram.save_simclr_diagram(tmp_path / "a" / "simclr.png")
    second = diagram.save_simclr_diagram(tmp_path / "b.png")
    data = first.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 20_000 < len(data) < 150 * 1024
    assert data == second.read_bytes()  # deterministic: no date, no version, no randomness
    with Image.open(first) as img:
        img.verify()
    with Image.open(first) as img:
        assert img.size == (round(diagram.SIZE[0] * diagram.DPI), round(diagram.SIZE[1] * diagram.DPI))
        pixels = np.asarray(img.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # something is drawn, not a blank page


def test_committed_image_is_the_diagram_and_the_cli_refuses_other_formats(tmp_path, capsys):
    committed = repo_path("images/simclr_architecture.png")
    assert committed.is_file(), "images/simclr_architecture.png is missing: python -m lib.report.diagram"
    assert diagram.main([str(tmp_path / "x.png")]) == 0 and "wrote" in capsys.readouterr().out
    with Image.open(committed) as a, Image.open(tmp_path / "x.png") as b:
        assert a.size == b.size
    with pytest.raises(ValueError, match="PNG"):
        diagram.save_simclr_diagram(tmp_path / "x.svg")


def test_views_are_crops_of_the_example_image():
    img = diagram.example_image()
    view_i, view_j = diagram.two_views(img)
    assert img.shape == (24, 24, 3) and 0 <= img.min() and img.max() <= 1
    assert view_i.shape == view_j.shape == (18, 18, 3)
    np.testing.assert_array_equal(view_i[:, ::-1], img[:18, 4:22])  # crop, then flip
