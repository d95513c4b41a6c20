"""Speed of the MinAtar Q-network's TD update on this machine, in several conv formulations.

    python scripts/conv_speed.py --write

The network of the MinAtar paper (Young & Tian, 2019): one 16-filter 3x3 conv (stride 1, SAME
padding), ReLU, flatten, 128 dense, ReLU, ``num_actions`` Q-values. Each formulation is written
the way the library writes networks, on ONE observation ``(H, W, C)`` and batched by
``jax.vmap``:

- ``eqx.nn.Conv2d``: Equinox's layer, channels-first (the observation transposed to ``(C, H, W)``);
- ``lax.conv NHWC``: ``lax.conv_general_dilated`` channels-last (``NHWC``/``HWIO``);
- ``patches + einsum``: the 3x3 neighbourhoods gathered as shifted slices of the zero-padded
  observation, ``(H, W, 9C)``, then one matmul with the kernel reshaped to ``(9C, filters)``;
- ``lax patches + einsum``: the same with ``lax.conv_general_dilated_patches`` gathering them;
- the library's ``conv2d_same`` (``dqn_jax.ConvQNetwork``'s conv), shifted slices + einsum.

All share one set of weights (kernel stored ``HWIO``) and are first checked against each
other: the same Q-values and gradients to float32 tolerance. Then each times a jitted DQN update
(Q-values of the online net, the target net's on the next observations, Huber loss, gradient,
Adam step) on batches of 32 and 128: a ``lax.scan`` of ``--updates`` updates per call, compiled
ahead of time, run ``--repeats`` times after a warm-up; the median call gives updates/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _common import header, write_section

from dqn_jax.blocks.conv_network import conv2d_same

SHAPE = (10, 10, 4)  # Breakout-MinAtar
NUM_ACTIONS = 3
FILTERS, KERNEL, HIDDEN = 16, 3, 128

Params = dict[str, jax.Array]


def init_params(key: jax.Array, shape: tuple[int, int, int] = SHAPE) -> Params:
    """Weights shared by every formulation; the kernel is ``HWIO``."""
    h, w, c = shape
    k1, k2, k3 = jax.random.split(key, 3)
    flat = h * w * FILTERS
    return {
        "kernel": jax.random.normal(k1, (KERNEL, KERNEL, c, FILTERS)) / np.sqrt(9 * c),
        "bias": jnp.full((FILTERS,), 0.01),
        "w1": jax.random.normal(k2, (flat, HIDDEN)) / np.sqrt(flat),
        "b1": jnp.zeros((HIDDEN,)),
        "w2": jax.random.normal(k3, (HIDDEN, NUM_ACTIONS)) / np.sqrt(HIDDEN),
        "b2": jnp.zeros((NUM_ACTIONS,)),
    }


# --- the conv layer of one observation (H, W, C) -> (H, W, FILTERS), four ways -------------------


def conv_equinox(params: Params, x: jax.Array) -> jax.Array:
    c = x.shape[-1]
    layer = eqx.nn.Conv2d(c, FILTERS, KERNEL, padding="SAME", key=jax.random.key(0))
    oihw = jnp.transpose(params["kernel"], (3, 2, 0, 1))
    layer = eqx.tree_at(lambda m: (m.weight, m.bias), layer, (oihw, params["bias"][:, None, None]))
    return jnp.transpose(layer(jnp.transpose(x, (2, 0, 1))), (1, 2, 0))


def conv_lax(params: Params, x: jax.Array) -> jax.Array:
    y = jax.lax.conv_general_dilated(
        x[None], params["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return y[0] + params["bias"]


def conv_slices(params: Params, x: jax.Array) -> jax.Array:
    h, w, c = x.shape
    pad = KERNEL // 2
    padded = jnp.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    patches = jnp.concatenate(
        [padded[i : i + h, j : j + w] for i in range(KERNEL) for j in range(KERNEL)], axis=-1
    )  # (H, W, 9C), ordered (i, j, c) like the HWIO kernel's first three axes
    kernel = params["kernel"].reshape(KERNEL * KERNEL * c, FILTERS)
    return jnp.einsum("hwk,kf->hwf", patches, kernel) + params["bias"]


def conv_lax_patches(params: Params, x: jax.Array) -> jax.Array:
    c = x.shape[-1]
    patches = jax.lax.conv_general_dilated_patches(
        x[None], (KERNEL, KERNEL), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )[0]  # (H, W, C * 9), ordered (c, i, j)
    kernel = jnp.transpose(params["kernel"], (2, 0, 1, 3)).reshape(c * KERNEL * KERNEL, FILTERS)
    return jnp.einsum("hwk,kf->hwf", patches, kernel) + params["bias"]


def conv_library(params: Params, x: jax.Array) -> jax.Array:
    return conv2d_same(x, params["kernel"], params["bias"])


CONVS: dict[str, Callable[[Params, jax.Array], jax.Array]] = {
    "eqx.nn.Conv2d (channels-first)": conv_equinox,
    "lax.conv NHWC/HWIO": conv_lax,
    "patches (slices) + einsum": conv_slices,
    "lax patches + einsum": conv_lax_patches,
    "dqn_jax `conv2d_same` (the library's)": conv_library,
}


def q_values(conv: Callable, params: Params, obs: jax.Array) -> jax.Array:
    """Q-values of one observation ``(H, W, C)``: shape ``(NUM_ACTIONS,)``."""
    x = jax.nn.relu(conv(params, obs)).reshape(-1)
    x = jax.nn.relu(x @ params["w1"] + params["b1"])
    return x @ params["w2"] + params["b2"]


def loss_fn(conv: Callable, online: Params, target: Params, batch: tuple) -> jax.Array:
    obs, action, reward, discount, next_obs = batch
    q = jax.vmap(lambda o: q_values(conv, online, o))(obs)
    q_next = jax.vmap(lambda o: q_values(conv, target, o))(next_obs)
    y = jax.lax.stop_gradient(reward + discount * jnp.max(q_next, axis=-1))
    q_a = jnp.take_along_axis(q, action[:, None], axis=-1)[:, 0]
    return jnp.mean(optax.huber_loss(q_a, y))


def make_batch(key: jax.Array, batch_size: int, shape: tuple[int, int, int] = SHAPE) -> tuple:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    obs = jax.random.bernoulli(k1, 0.1, (batch_size, *shape)).astype(jnp.float32)
    next_obs = jax.random.bernoulli(k2, 0.1, (batch_size, *shape)).astype(jnp.float32)
    action = jax.random.randint(k3, (batch_size,), 0, NUM_ACTIONS)
    reward = jax.random.normal(k4, (batch_size,))
    return obs, action, reward, jnp.full((batch_size,), 0.99), next_obs


def check_exact(shape: tuple[int, int, int] = SHAPE) -> float:
    """Largest difference of Q-values and gradients between the formulations and the first;
    raises if one exceeds float32 tolerance."""
    params = init_params(jax.random.key(0), shape)
    target = init_params(jax.random.key(1), shape)
    batch = make_batch(jax.random.key(2), 32, shape)
    results = {}
    for name, conv in CONVS.items():
        q = jax.jit(jax.vmap(lambda o, c=conv: q_values(c, params, o)))(batch[0])
        grads = jax.jit(jax.grad(lambda p, c=conv: loss_fn(c, p, target, batch)))(params)
        results[name] = (q, grads)
    (q0, g0), worst = results[next(iter(CONVS))], 0.0
    for name, (q, g) in results.items():
        for a, b in [(q, q0), *zip(jax.tree.leaves(g), jax.tree.leaves(g0), strict=True)]:
            diff = float(jnp.max(jnp.abs(a - b)))
            scale = float(jnp.max(jnp.abs(b))) + 1e-12
            if diff > 1e-5 * max(1.0, scale):
                raise AssertionError(f"{name} differs from {next(iter(CONVS))} by {diff:g}")
            worst = max(worst, diff)
    return worst


def updates_per_s(conv: Callable, batch_size: int, updates: int, repeats: int) -> float:
    """Median updates/s of a jitted scan of ``updates`` DQN updates (Adam)."""
    optimizer = optax.adam(1e-4)
    params = init_params(jax.random.key(0))
    target = init_params(jax.random.key(1))
    batch = make_batch(jax.random.key(2), batch_size)

    def update(carry, _):
        online, opt_state = carry
        grads = jax.grad(lambda p: loss_fn(conv, p, target, batch))(online)
        step, opt_state = optimizer.update(grads, opt_state, online)
        return (optax.apply_updates(online, step), opt_state), None

    def run(online, opt_state):
        return jax.lax.scan(update, (online, opt_state), length=updates)[0]

    compiled = jax.jit(run).lower(params, optimizer.init(params)).compile()
    jax.block_until_ready(compiled(params, optimizer.init(params)))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(params, optimizer.init(params)))
        times.append(time.perf_counter() - start)
    return updates / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=20, help="updates per timed call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    worst = check_exact()
    print(f"all formulations agree: largest difference {worst:.2g}", flush=True)
    rows = []
    for name, conv in CONVS.items():
        rates = [updates_per_s(conv, b, args.updates, args.repeats) for b in args.batch_sizes]
        rows.append((name, rates))
        print(name, " ".join(f"{r:,.0f}" for r in rates), flush=True)

    load = (load_before + os.getloadavg()[0]) / 2
    candidates = rows[:-1]  # the library's conv is one of the formulations
    best = {b: max(candidates, key=lambda r: r[1][i])[0] for i, b in enumerate(args.batch_sizes)}
    columns = " | ".join(f"batch {b} (updates/s)" for b in args.batch_sizes)
    lines = [
        *header("MinAtar Q-network: conv formulations, TD update speed"),
        f"Network: one {FILTERS}-filter {KERNEL}x{KERNEL} conv (stride 1, SAME), ReLU, "
        f"{HIDDEN} dense, ReLU, {NUM_ACTIONS} Q-values, on one {SHAPE} observation under "
        "`jax.vmap`. One update: Q-values of the online and the target net, Huber loss, gradient, "
        f"Adam; a jitted `lax.scan` of {args.updates} updates per call, median of "
        f"{args.repeats} calls after a warm-up. All formulations give the same Q-values and "
        f"gradients (largest difference {worst:.1g}). Load average while measuring: {load:.1f} "
        f"on {os.cpu_count()} cores; other jobs on the machine move single runs by up to 2x.",
        "",
        f"| formulation | {columns} |",
        "|---|" + "---:|" * len(args.batch_sizes),
        *(f"| {name} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |" for name, rates in rows),
        "",
        "Fastest: " + "; ".join(f"batch {b}: {name}" for b, name in best.items()) + ".",
        "`dqn_jax.ConvQNetwork` uses the shifted-slices formulation (`conv2d_same`): its row and "
        "the patches (slices) row are the same computation, apart by run-to-run noise only.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("conv-speed", text)


if __name__ == "__main__":
    main()
