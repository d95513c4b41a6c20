"""An animated GIF of a trained agent playing one greedy episode of CartPole-v1.

The episode runs as one jitted scan; CartPole's observation is its state (cart position and
velocity, pole angle and angular velocity), so each frame is drawn from the observation with
Pillow, in the geometry of the classic renderer.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray
from PIL import Image, ImageDraw

from dqn_jax.blocks.envs import EnvSpec
from dqn_jax.config import DQNConfig
from dqn_jax.loop.policy import act

SUPPORTED = ("CartPole-v1",)


def check_supported(env_name: str) -> None:
    """Raises ``ValueError`` unless ``env_name`` can be drawn."""
    if env_name not in SUPPORTED:
        raise ValueError(f"render supports CartPole-v1 only (this run's env is {env_name})")


@eqx.filter_jit
def _play(
    q_network: eqx.Module, spec: EnvSpec, key: PRNGKeyArray
) -> tuple[Float[Array, "steps obs_dim"], Float[Array, "steps obs_dim"], Array, Array]:
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
        ``(observations, rewards)``: shapes ``(steps + 1, obs_dim)`` (the first observation and
        the one after every step) and ``(steps,)``.
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


def render_gif(
    q_network: eqx.Module,
    config: DQNConfig,
    key: PRNGKeyArray,
    path: str | Path,
    *,
    fps: int = 50,
    size: tuple[int, int] = (480, 320),
) -> tuple[int, float]:
    """Plays one greedy episode and writes it as a looping GIF.

    Args:
        q_network: one agent's network (unbatched).
        config: the run's config; its env must be CartPole-v1.
        key: PRNG key of the episode.
        path: the GIF to write (its folder is created).
        fps: frames per second.
        size: ``(width, height)`` of a frame in pixels.

    Returns:
        ``(frames, episode_return)``.
    """
    check_supported(config.env_name)
    observations, rewards = play_episode(q_network, config, key)
    returns = np.concatenate([[0.0], np.cumsum(rewards)])
    frames = [
        draw_cartpole(float(obs[0]), float(obs[2]), f"step {t}  return {returns[t]:.0f}", size)
        for t, obs in enumerate(observations)
    ]
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
