"""An animated GIF of a trained agent playing one greedy episode.

The episode runs as one jitted scan, and each frame is drawn with Pillow from the observation:

- CartPole-v1's observation is its state (cart position and velocity, pole angle and angular
  velocity): the cart and pole are drawn in the geometry of the classic renderer
  (:func:`draw_cartpole`);
- an image of 0/1 channels ``(height, width, channels)``, such as a MinAtar game's, is drawn as
  its grid of cells, each channel in its own colour (:func:`draw_channels`).
"""

from __future__ import annotations

import colorsys
import math
import os
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray
from PIL import Image, ImageDraw

from dqn_jax.blocks.envs import EnvSpec, make_env
from dqn_jax.config import DQNConfig
from dqn_jax.loop.policy import act

SUPPORTED = ("CartPole-v1",)  # drawn from the state its observation holds
CARTPOLE, CHANNELS = "cartpole", "channels"  # the two kinds of frame
DEFAULT_FPS = {CARTPOLE: 50, CHANNELS: 10}  # a MinAtar object moves one cell a step

# Matplotlib's tab10 (the default colour cycle): channel c is drawn in TAB10[c] (up to 10
# channels; more get evenly spaced hues, see ``channel_colours``).
TAB10 = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
EMPTY = (0, 0, 0)  # a cell where no channel is on

# What each channel of gymnax's MinAtar games shows (read from each game's ``get_obs``).
CHANNEL_NAMES: dict[str, tuple[str, ...]] = {
    "Asterix-MinAtar": ("player", "enemy", "trail", "gold"),
    "Breakout-MinAtar": ("paddle", "ball", "trail", "brick"),
    "Freeway-MinAtar": ("chicken", "car", *(f"speed {s} trail" for s in range(1, 6))),
    "Seaquest-MinAtar": (
        "sub front",
        "sub back",
        "friendly bullet",
        "trail",
        "enemy bullet",
        "enemy fish",
        "enemy sub",
        "oxygen gauge",
        "diver gauge",
        "diver",
    ),
    "SpaceInvaders-MinAtar": (
        "cannon",
        "alien",
        "alien moving left",
        "alien moving right",
        "friendly bullet",
        "enemy bullet",
    ),
}


def frame_kind(env_name: str, spec: EnvSpec) -> str | None:
    """How the observations of the env ``env_name`` (built as ``spec``) are drawn: ``CARTPOLE``,
    ``CHANNELS`` (images whose values are 0 or 1, those the replay bit-packs) or ``None`` (they
    cannot be)."""
    if env_name in SUPPORTED:
        return CARTPOLE
    if len(spec.obs_shape) == 3 and spec.obs_storage == "bits":
        return CHANNELS
    return None


def check_supported(config: DQNConfig | str) -> str:
    """The kind of frame the env of ``config`` (or the env named) is drawn in (see
    :func:`frame_kind`); raises ``ValueError`` when it cannot be drawn."""
    if isinstance(config, str):
        name, spec = config, make_env(config)
    else:
        name, spec = config.env_name, config.env_spec
    kind = frame_kind(name, spec)
    if kind is None:
        raise ValueError(
            "render draws CartPole-v1 and images of 0/1 channels such as the MinAtar games "
            f"(this run's env is {name}, observations of shape {spec.obs_shape})"
        )
    return kind


@eqx.filter_jit
def _play(
    q_network: eqx.Module, spec: EnvSpec, key: PRNGKeyArray
) -> tuple[Float[Array, "steps ..."], Float[Array, "steps ..."], Array, Array]:
    """Observation before and after every step of one greedy episode (padded to the time
    limit), the rewards and whether each step ended the episode."""
    reset_key, key = jax.random.split(key)
    obs, env_state = spec.env.reset(reset_key, spec.env_params)

    def step(carry, _):
        obs, env_state, key = carry
        key, act_key, step_key = jax.random.split(key, 3)
        seen = spec.preprocess(obs)
        action = act(q_network, seen, act_key)
        obs, env_state, reward, terminated, truncated, info = spec.env.step(
            step_key, env_state, action, spec.env_params
        )
        final = spec.preprocess(info["final_observation"])
        return (obs, env_state, key), (seen, final, reward, terminated | truncated)

    _, out = jax.lax.scan(step, (obs, env_state, key), length=spec.max_steps_in_episode)
    return out


def play_episode(
    q_network: eqx.Module, config: DQNConfig, key: PRNGKeyArray
) -> tuple[np.ndarray, np.ndarray]:
    """One greedy episode.

    Returns:
        ``(observations, rewards)``: shapes ``(steps + 1, *obs_shape)`` (the first observation
        and the one after every step) and ``(steps,)``.
    """
    spec = config.env_spec
    seen, final, reward, done = (np.asarray(x) for x in _play(q_network, spec, key))
    steps = int(np.argmax(done)) + 1 if done.any() else len(done)
    observations = np.concatenate([seen[:steps], final[steps - 1 : steps]])
    return observations, reward[:steps].astype(np.float64)


def draw_cartpole(
    x: float, theta: float, caption: str = "", size: tuple[int, int] = (480, 320)
) -> Image.Image:
    """One frame: the cart at position ``x`` (m) with the pole at angle ``theta`` (radians,
    0 upright), in a world 4.8 m wide (the track's +-2.4 m limits)."""
    width, height = size
    scale = width / 4.8
    pole_length = scale * 1.0  # the pole is 2 * 0.5 m long
    pole_width = max(2.0, scale * 0.1)
    cart_w, cart_h = scale * 0.5, scale * 0.3
    track_y = height * 0.75
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.line([(0, track_y), (width, track_y)], fill="black", width=1)
    cx = width / 2 + x * scale
    draw.rectangle(
        [cx - cart_w / 2, track_y - cart_h / 2, cx + cart_w / 2, track_y + cart_h / 2],
        fill="black",
    )
    axle = (cx, track_y - cart_h / 4)
    sin, cos = math.sin(theta), math.cos(theta)
    along = (sin * pole_length, -cos * pole_length)  # image y grows downwards
    across = (cos * pole_width / 2, sin * pole_width / 2)
    draw.polygon(
        [
            (axle[0] - across[0], axle[1] - across[1]),
            (axle[0] + across[0], axle[1] + across[1]),
            (axle[0] + across[0] + along[0], axle[1] + across[1] + along[1]),
            (axle[0] - across[0] + along[0], axle[1] - across[1] + along[1]),
        ],
        fill=(202, 152, 101),
    )
    r = pole_width / 2
    draw.ellipse([axle[0] - r, axle[1] - r, axle[0] + r, axle[1] + r], fill=(129, 132, 203))
    if caption:
        draw.text((8, 8), caption, fill="black")
    return image


def channel_colours(num_channels: int) -> np.ndarray:
    """The colour of each channel, shape ``(num_channels, 3)``, uint8 RGB: ``TAB10`` for up to
    10 channels, else ``num_channels`` evenly spaced hues (all distinct, none dark)."""
    if num_channels <= len(TAB10):
        return np.array(TAB10[:num_channels], np.uint8)
    hues = np.arange(num_channels) / num_channels
    return np.array(
        [[round(255 * v) for v in colorsys.hsv_to_rgb(h, 0.75, 0.95)] for h in hues], np.uint8
    )


def channel_image(obs: np.ndarray) -> np.ndarray:
    """The colour of every cell of an image of 0/1 channels.

    A cell takes the colour of its **highest** channel that is on (``channel_colours``), as
    MinAtar's own renderer shows it; a cell where no channel is on is ``EMPTY``.

    Args:
        obs: shape ``(height, width, channels)``, values 0 or 1.

    Returns:
        uint8 RGB of shape ``(height, width, 3)``.
    """
    obs = np.asarray(obs)
    if obs.ndim != 3:
        raise ValueError(f"obs of shape {obs.shape} must be (height, width, channels)")
    num_channels = obs.shape[-1]
    # 0 where no channel is on, else 1 + the highest channel that is
    top = np.max(np.where(obs != 0, np.arange(1, num_channels + 1), 0), axis=-1)
    palette = np.concatenate([np.array([EMPTY], np.uint8), channel_colours(num_channels)])
    return palette[top]


def draw_channels(
    obs: np.ndarray,
    caption: str = "",
    size: tuple[int, int] = (480, 320),
    names: Sequence[str] | None = None,
) -> Image.Image:
    """One frame of an image observation: its cells as squares coloured by
    :func:`channel_image`, a caption above them and, to their right, a legend of the channels.

    Args:
        obs: shape ``(height, width, channels)``, values 0 or 1.
        caption: text at the top left.
        size: ``(width, height)`` of the frame in pixels.
        names: what each channel shows, for the legend (default ``channel 0``, ...).

    Returns:
        The frame; the cell at row ``h``, column ``w`` covers the pixels of
        :func:`cell_box` ``(obs.shape, size, h, w)``.
    """
    pixels = channel_image(obs)
    rows, cols, num_channels = np.shape(obs)
    if names is None or len(names) != num_channels:
        names = [f"channel {c}" for c in range(num_channels)]
    image = Image.new("RGB", size, "white")
    left, top, cell = _grid(np.shape(obs), size)
    grid = Image.fromarray(pixels).resize((cols * cell, rows * cell), Image.Resampling.NEAREST)
    image.paste(grid, (left, top))
    draw = ImageDraw.Draw(image)
    if caption:
        draw.text((8, 8), caption, fill="black")
    x = left + cols * cell + _MARGIN
    for c, (colour, name) in enumerate(zip(channel_colours(num_channels), names, strict=True)):
        y = top + c * _LEGEND_ROW
        draw.rectangle([x, y, x + 11, y + 11], fill=tuple(int(v) for v in colour))
        draw.text((x + 16, y), name, fill="black")
    return image


_CAPTION, _MARGIN, _LEGEND_WIDTH, _LEGEND_ROW = 24, 8, 140, 16


def _grid(obs_shape: Sequence[int], size: tuple[int, int]) -> tuple[int, int, int]:
    """``(left, top, cell)``: where the grid of cells starts in a frame of ``size`` and the
    side of one cell in pixels (at least 1)."""
    rows, cols = obs_shape[0], obs_shape[1]
    width, height = size
    fit_w = (width - _LEGEND_WIDTH - 2 * _MARGIN) // cols
    fit_h = (height - _CAPTION - _MARGIN) // rows
    return _MARGIN, _CAPTION, max(1, min(fit_w, fit_h))


def cell_box(
    obs_shape: Sequence[int], size: tuple[int, int], row: int, col: int
) -> tuple[int, int, int, int]:
    """The pixels ``(x0, y0, x1, y1)`` (``x1``, ``y1`` excluded) that :func:`draw_channels`
    fills with the cell at ``(row, col)`` of an observation of ``obs_shape``."""
    left, top, cell = _grid(obs_shape, size)
    x0, y0 = left + col * cell, top + row * cell
    return x0, y0, x0 + cell, y0 + cell


def render_gif(
    q_network: eqx.Module,
    config: DQNConfig,
    key: PRNGKeyArray,
    path: str | Path,
    *,
    fps: int | None = None,
    size: tuple[int, int] = (480, 320),
) -> tuple[int, float]:
    """Plays one greedy episode and writes it as a looping GIF, one frame per observation.

    Args:
        q_network: one agent's network (unbatched).
        config: the run's config; its env must be CartPole-v1 or have images of 0/1 channels
            (:func:`check_supported`).
        key: PRNG key of the episode.
        path: the GIF to write (its folder is created).
        fps: frames per second (default ``DEFAULT_FPS`` of the kind of frame: 50 for
            CartPole-v1, 10 for images).
        size: ``(width, height)`` of a frame in pixels.

    Returns:
        ``(frames, episode_return)``: ``frames`` is the episode's steps + 1.
    """
    kind = check_supported(config)
    observations, rewards = play_episode(q_network, config, key)
    returns = np.concatenate([[0.0], np.cumsum(rewards)])
    captions = [f"step {t}  return {returns[t]:.0f}" for t in range(len(observations))]
    if kind == CARTPOLE:
        frames = [
            draw_cartpole(float(obs[0]), float(obs[2]), caption, size)
            for obs, caption in zip(observations, captions, strict=True)
        ]
    else:
        names = CHANNEL_NAMES.get(config.env_name)
        frames = [
            draw_channels(obs, caption, size, names)
            for obs, caption in zip(observations, captions, strict=True)
        ]
    fps = DEFAULT_FPS[kind] if fps is None else fps
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.gif")
    try:
        frames[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=max(1, round(1000 / fps)),
            loop=0,
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frames), float(returns[-1])
