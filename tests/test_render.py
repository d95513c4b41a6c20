"""Frames of a rendered episode: a MinAtar observation drawn channel by channel, by value; what
``render`` accepts. (The GIFs the command line writes: test_cli.py for CartPole-v1,
test_minatar_runs.py for Breakout-MinAtar.)"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import key

from dqn_jax import DQNConfig, make_env
from dqn_jax.viz import render

# Matplotlib's tab10, written out: Breakout-MinAtar's paddle, ball, trail and brick channels.
BLUE, ORANGE, GREEN, RED = (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
SIZE = (480, 320)


@pytest.fixture(scope="module")
def breakout_obs() -> np.ndarray:
    """A real Breakout-MinAtar observation, 3 no-op steps after a reset: the paddle on the
    bottom row, the ball and its trail, three rows of bricks."""
    spec = make_env("Breakout-MinAtar")

    @jax.jit
    def play(k):
        obs, state = spec.env.reset(k, spec.env_params)
        for i in range(3):
            obs, state, *_ = spec.env.step(jax.random.fold_in(k, i), state, 0, spec.env_params)
        return obs

    return np.asarray(play(key(0)))


def _cell_pixels(frame: np.ndarray, obs_shape, row: int, col: int) -> np.ndarray:
    x0, y0, x1, y1 = render.cell_box(obs_shape, SIZE, row, col)
    assert x1 - x0 == y1 - y0 == 28  # (320 - 24 caption - 8 margin) // 10 rows
    return frame[y0:y1, x0:x1].reshape(-1, 3)


def test_every_cell_has_the_colour_of_its_channel(breakout_obs):
    obs = breakout_obs
    assert obs.shape == (10, 10, 4) and set(np.unique(obs)) == {0.0, 1.0}
    assert obs[..., 0].sum() == obs[..., 1].sum() == obs[..., 2].sum() == 1
    assert obs[..., 3].sum() == 30 and not (obs.sum(-1) > 1).any()  # one object per cell here
    names = render.CHANNEL_NAMES["Breakout-MinAtar"]
    frame = np.asarray(render.draw_channels(obs, "step 3", SIZE, names))
    assert frame.shape == (320, 480, 3)
    seen = {colour: 0 for colour in (BLUE, ORANGE, GREEN, RED, BLACK)}
    for row in range(10):
        for col in range(10):
            on = obs[row, col]
            want = BLACK
            for channel, colour in enumerate((BLUE, ORANGE, GREEN, RED)):
                if on[channel]:
                    want = colour
            pixels = _cell_pixels(frame, obs.shape, row, col)
            assert (pixels == want).all(), (row, col, on, np.unique(pixels, axis=0))
            seen[want] += 1
    assert seen == {BLUE: 1, ORANGE: 1, GREEN: 1, RED: 30, BLACK: 67}
    assert obs[9, :, 0].any()  # the paddle lies on the bottom row, drawn blue there
    assert (_cell_pixels(frame, obs.shape, 9, int(np.argmax(obs[9, :, 0]))) == BLUE).all()


def test_the_grid_is_framed_by_white_and_nothing_but_cells_is_coloured(breakout_obs):
    frame = np.asarray(render.draw_channels(breakout_obs, "", SIZE))
    x0, y0, _, _ = render.cell_box((10, 10, 4), SIZE, 0, 0)
    _, _, x1, y1 = render.cell_box((10, 10, 4), SIZE, 9, 9)
    assert (x0, y0, x1, y1) == (8, 24, 8 + 280, 24 + 280)
    assert (frame[:y0] == WHITE).all() and (frame[y1:] == WHITE).all()  # no caption given
    assert (frame[:, :x0] == WHITE).all()
    grid = frame[y0:y1, x0:x1].reshape(-1, 3)
    colours = {tuple(int(v) for v in c) for c in np.unique(grid, axis=0)}
    assert colours == {BLUE, ORANGE, GREEN, RED, BLACK}


def test_where_channels_overlap_the_highest_wins():
    obs = np.zeros((3, 4, 4))
    obs[0, 0, [0, 2]] = 1  # paddle and trail: trail
    obs[0, 1, [1, 3]] = 1  # ball and brick: brick
    obs[1, 2, :] = 1  # all four: brick
    obs[2, 3, 0] = 1
    colours = render.channel_image(obs)
    assert colours.dtype == np.uint8 and colours.shape == (3, 4, 3)
    assert tuple(colours[0, 0]) == GREEN and tuple(colours[0, 1]) == RED
    assert tuple(colours[1, 2]) == RED and tuple(colours[2, 3]) == BLUE
    assert tuple(colours[1, 1]) == BLACK and tuple(colours[2, 0]) == BLACK


@pytest.mark.parametrize("num_channels", [1, 4, 7, 10, 11, 16])
def test_every_channel_has_its_own_colour_none_dark(num_channels):
    colours = render.channel_colours(num_channels)
    assert colours.shape == (num_channels, 3) and colours.dtype == np.uint8
    assert len({tuple(c) for c in colours}) == num_channels
    assert (colours.astype(int).max(axis=1) > 100).all()  # apart from the empty cells' black
    obs = np.eye(num_channels)[None]  # one cell per channel
    np.testing.assert_array_equal(render.channel_image(obs)[0], colours)


def test_the_legend_names_every_channel(breakout_obs):
    names = render.CHANNEL_NAMES["Breakout-MinAtar"]
    frame = np.asarray(render.draw_channels(breakout_obs, "", SIZE, names))
    x = 8 + 280 + 8  # the swatches, right of the grid
    for channel, colour in enumerate((BLUE, ORANGE, GREEN, RED)):
        y = 24 + 16 * channel
        assert (frame[y : y + 12, x : x + 12] == colour).all()
    for game, names in render.CHANNEL_NAMES.items():
        assert len(names) == make_env(game).obs_shape[-1], game


def test_render_draws_cartpole_and_images_of_channels_only():
    assert render.check_supported(DQNConfig()) == render.CARTPOLE
    assert render.check_supported("CartPole-v1") == render.CARTPOLE
    for game in ("Breakout-MinAtar", "Seaquest-MinAtar"):
        assert render.check_supported(DQNConfig.for_env(game)) == render.CHANNELS
    sticky = DQNConfig.for_env("Breakout-MinAtar", sticky_action_prob=0.1)
    assert render.check_supported(sticky) == render.CHANNELS
    with pytest.raises(ValueError, match=r"Acrobot-v1, observations of shape \(6,\)"):
        render.check_supported("Acrobot-v1")
