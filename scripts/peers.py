"""Our DQN against Rejax's DQN and a compute floor, on matched work.

    python scripts/peers.py --agents 1 32 --write

All three programs do the same work per agent on CartPole-v1 (gymnax 1.0.1): the same env steps
with ``num_envs`` vmapped environments, the same number of gradient steps on batches of the same
size, a 64-64 ReLU Q-network (Double DQN targets, MSE loss, Adam), the same replay capacity, and no
evaluation inside the run:

- **ours**: ``dqn_jax.make_train`` with the matched config (one-step targets, no LayerNorm: the
  work Rejax does), ``jax.jit`` of the train function (``jax.vmap`` over seeds when agents > 1);
- **Rejax**: ``rejax.DQN`` (PyPI ``rejax``) in its own virtual environment, which this script
  creates when missing (``python -m venv`` then ``pip install rejax``), timed by a small worker
  program in that venv that answers on stdin/stdout; its ``train`` is vmapped over keys for
  several agents, as the Rejax documentation does;
- **floor**: a minimal jitted loop doing only the same env steps (greedy actions from the same
  MLP) and the same number of Adam updates on batches gathered by random indices from a fixed
  array: no replay writes, exploration, target updates, clipping or logging.

    python scripts/peers.py --env Breakout-MinAtar --agents 1 --write

On a MinAtar game (``--env``, an :class:`ImageWork`) the comparison is ours against the floor
only (Rejax's DQN has no conv network): ours is ``DQNConfig.for_env(env)`` shortened, without
evaluation; the floor the same minimal loop with the agents' ``ConvQNetwork`` on ``(10, 10, C)``
observations and their loss (Double DQN, the tuned config's). Its section is
``benchmark-floor-minatar``; ``--variant LABEL:FIELD=VALUE,...`` adds ours on changed configs
(ablations), timed in turn.

Each program is compiled ahead of time (compile excluded), then run once as a warm-up and
``--repeats`` times; the three run in turn (ours, Rejax, floor, ours, ...) so that other load on
the machine falls on all of them alike. Steady state is the fastest run (the median is shown too).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import gymnax
import jax
import jax.numpy as jnp
import optax

import dqn_jax
from dqn_jax.loop.train import new_network

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    REJAX_FIVE_VALUE_STEP,
    REJAX_VENV,
    command,
    compile_agents,
    header,
    machine,
    parse_config,
    peer_env,
    rejax_python,
    write_section,
)

DEFAULT_VENV = REJAX_VENV


@dataclasses.dataclass(frozen=True)
class Work:
    """The work every program does, per agent."""

    total_timesteps: int = 20_000
    num_envs: int = 4
    gradient_steps: int = 2  # after every step of the num_envs envs (Rejax's num_epochs)
    batch_size: int = 128
    buffer_size: int = 50_000
    learning_starts: int = 1_000
    hidden_sizes: tuple[int, ...] = (64, 64)
    learning_rate: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.05  # Polyak step after every env step (Rejax: polyak = 1 - tau)
    epsilon_decay_steps: int = 10_000

    @property
    def num_rounds(self) -> int:
        """Steps of the num_envs envs."""
        return self.total_timesteps // self.num_envs

    @property
    def first_learning_round(self) -> int:
        """First round whose gradient steps run: its env steps reach learning_starts."""
        return max(0, -(-self.learning_starts // self.num_envs) - 1)

    @property
    def num_updates(self) -> int:
        return (self.num_rounds - self.first_learning_round) * self.gradient_steps

    def ours(self) -> dqn_jax.DQNConfig:
        return dqn_jax.DQNConfig(
            total_timesteps=self.total_timesteps,
            num_envs=self.num_envs,
            train_frequency=self.num_envs,
            gradient_steps=self.gradient_steps,
            batch_size=self.batch_size,
            buffer_size=self.buffer_size,
            learning_starts=self.learning_starts,
            target_update_period=self.num_envs,
            tau=self.tau,
            learning_rate=self.learning_rate,
            lr_decay=False,
            max_grad_norm=10.0,
            gamma=self.gamma,
            loss="mse",
            double=True,
            n_step=1,
            epsilon_decay_steps=self.epsilon_decay_steps,
            hidden_sizes=self.hidden_sizes,
            activation="relu",
            layer_norm=False,
            log_interval=self.total_timesteps,
            eval_episodes=0,
        )

    def rejax(self) -> dict[str, Any]:
        """Keyword arguments of ``rejax.DQN.create`` for the same work.

        A Rejax iteration steps the ``num_envs`` envs once, then (once ``global_step >
        fill_buffer`` before the step) takes ``num_epochs`` gradient steps, so ``fill_buffer =
        learning_starts - num_envs - 1`` starts learning in the same round as ours. The target
        moves every iteration (``target_update_freq = num_envs`` env steps). One evaluation
        window spans the whole run and the worker replaces the evaluation by a no-op.
        """
        return dict(
            total_timesteps=self.total_timesteps,
            num_envs=self.num_envs,
            num_epochs=self.gradient_steps,
            batch_size=self.batch_size,
            buffer_size=self.buffer_size,
            fill_buffer=self.learning_starts - self.num_envs - 1,
            target_update_freq=self.num_envs,
            polyak=1.0 - self.tau,
            learning_rate=self.learning_rate,
            max_grad_norm=10.0,
            gamma=self.gamma,
            ddqn=True,
            agent_kwargs={"activation": "relu", "hidden_layer_sizes": list(self.hidden_sizes)},
            eps_start=1.0,
            eps_end=0.05,
            exploration_fraction=self.epsilon_decay_steps / self.total_timesteps,
            eval_freq=self.total_timesteps,
            skip_initial_evaluation=True,
        )


@dataclasses.dataclass(frozen=True)
class ImageWork:
    """The work on a MinAtar game, per agent: the settings ``DQNConfig.for_env(env_name)`` tunes
    (conv 16x3x3, 128 dense + LayerNorm, batch 32, Double DQN, the game's tuned loss over its tuned
    return length (3-step on Breakout, one-step elsewhere), Adam, 8 envs, 2 gradient steps per
    round of 8 env steps, hard target updates every 1,000 env steps, bit-packed replay of
    100,000), shortened to ``total_timesteps`` with no evaluation inside
    the run. Rejax has no conv network in its DQN: there is no Rejax side."""

    env_name: str = "Breakout-MinAtar"
    total_timesteps: int = 50_000

    def ours(self) -> dqn_jax.DQNConfig:
        return dqn_jax.DQNConfig.for_env(
            self.env_name,
            total_timesteps=self.total_timesteps,
            log_interval=self.total_timesteps,
            eval_episodes=0,
        )

    @property
    def num_envs(self) -> int:
        return self.ours().num_envs

    @property
    def num_rounds(self) -> int:
        return self.ours().num_rounds

    @property
    def first_learning_round(self) -> int:
        return self.ours().first_learning_round

    @property
    def num_updates(self) -> int:
        return self.ours().num_updates


# --- Rejax, in its own virtual environment --------------------------------------------------

REJAX_WORKER = (
    r"""
import json, sys, time
from importlib import metadata

import jax
import jax.numpy as jnp
import gymnax
from rejax import DQN
"""
    + REJAX_FIVE_VALUE_STEP
    + r"""

spec = json.loads(sys.argv[1])
env, env_params = gymnax.make("CartPole-v1")
kwargs = spec["kwargs"]
hidden = tuple(kwargs["agent_kwargs"].pop("hidden_layer_sizes"))
algo = DQN.create(env=FiveValueStep(env), env_params=env_params, **kwargs)
assert algo.agent.hidden_layer_sizes == hidden, (algo.agent.hidden_layer_sizes, hidden)
algo = algo.replace(eval_callback=lambda algo, ts, rng: jnp.zeros(()))
agents = spec["agents"]
if agents > 1:
    fn, keys = jax.jit(jax.vmap(algo.train)), jax.random.split(jax.random.key(0), agents)
else:
    fn, keys = jax.jit(algo.train), jax.random.key(0)
start = time.perf_counter()
compiled = fn.lower(keys).compile()
versions = {n: metadata.version(n) for n in ("rejax", "jax", "jaxlib", "flax", "gymnax")}
print(json.dumps({"compile_s": time.perf_counter() - start, "versions": versions}), flush=True)
for line in sys.stdin:
    if line.strip() != "run":
        break
    start = time.perf_counter()
    ts, _ = compiled(keys)
    jax.block_until_ready(ts)
    run_s = time.perf_counter() - start
    print(json.dumps({
        "run_s": run_s,
        "env_steps": int(jnp.sum(ts.global_step)),
        "updates": int(jnp.sum(ts.q_ts.step)),
    }), flush=True)
"""
)


class RejaxWorker:
    """Rejax's train compiled in a subprocess of the peers' venv; ``run()`` times one run."""

    def __init__(self, python: Path, work: Work, agents: int) -> None:
        spec = json.dumps({"kwargs": work.rejax(), "agents": agents})
        self.proc = subprocess.Popen(
            [str(python), "-c", REJAX_WORKER, spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=peer_env(),
        )
        first = self._read()
        self.compile_s = first["compile_s"]
        self.versions = first["versions"]

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the Rejax worker exited (code {self.proc.wait()})")
        return json.loads(line)

    def run(self) -> dict[str, Any]:
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


# --- ours and the floor, in this process -----------------------------------------------------


class LocalProgram:
    """A jitted ``fn(key)``, vmapped over keys for several agents; ``counts(output)`` gives the
    env steps and gradient steps it did. Its whole output is returned, so nothing is dead code."""

    def __init__(
        self, fn: Callable[[jax.Array], Any], agents: int, counts: Callable[[Any], tuple]
    ) -> None:
        self.program = compile_agents(fn, agents)
        self.compile_s = self.program.compile_s
        self.counts = counts

    def run(self) -> dict[str, Any]:
        start, cpu_start = time.perf_counter(), time.process_time()
        output = jax.block_until_ready(self.program())
        run_s = time.perf_counter() - start
        cpu_s = time.process_time() - cpu_start
        env_steps, updates = self.counts(output)
        return {
            "run_s": run_s,
            "cpu_s": cpu_s,
            "env_steps": int(jnp.sum(env_steps)),
            "updates": int(jnp.sum(updates)),
        }


def ours(config: dqn_jax.DQNConfig, agents: int) -> LocalProgram:
    """``dqn_jax.make_train(config)``, returning its whole ``TrainResult`` as a user gets it."""
    return LocalProgram(
        dqn_jax.make_train(config), agents, lambda r: (r.state.env_steps, r.state.updates)
    )


def floor(work: Work | ImageWork, agents: int, updates: bool = True) -> LocalProgram:
    fn = image_floor_fn(work, updates) if isinstance(work, ImageWork) else floor_fn(work, updates)
    return LocalProgram(fn, agents, lambda out: out[:2])


def run_rounds(work: Any, env_step: Callable, update: Callable | None, carry: tuple) -> tuple:
    """The floors' loop: env steps alone until the first learning round, then each round one
    step of the envs and ``work.gradient_steps`` updates (none if ``update`` is None).

    ``carry`` is ``(online, opt_state, obs, env_state, key, env_steps)``. Returns the env steps
    and Adam steps taken, counted rather than assumed (the comparison checks them against the
    agents' work), and ``(online, opt_state, obs)``.
    """

    def round_(carry, _):
        carry = env_step(carry)
        if update is not None:
            carry = jax.lax.fori_loop(0, work.gradient_steps, update, carry)
        return carry, None

    carry, _ = jax.lax.scan(
        lambda c, _: (env_step(c), None), carry, None, length=work.first_learning_round
    )
    carry, _ = jax.lax.scan(round_, carry, None, length=work.num_rounds - work.first_learning_round)
    env_steps, adam_steps = carry[5], carry[1][0].count
    return env_steps, adam_steps, carry[:3]


def floor_fn(work: Work, updates: bool = True) -> Callable[[jax.Array], tuple]:
    """The compute floor of ``work``: env steps and Adam updates, nothing else.

    Each round steps the ``num_envs`` envs once with the greedy action of the online MLP, then
    (from the same round as the agents) takes ``gradient_steps`` Adam steps on the Double-DQN MSE
    loss of a batch gathered by random indices from a fixed array of ``buffer_size`` transitions:
    the online net over obs (differentiated) and next_obs (constant), the target net over
    next_obs. ``updates=False`` keeps only the env steps.
    """
    env, env_params = gymnax.make("CartPole-v1")
    obs_dim = env.observation_space(env_params).shape[0]
    num_actions = env.action_space(env_params).n
    optimizer = optax.adam(work.learning_rate)
    batch, n = work.batch_size, work.buffer_size

    def new_params(key: jax.Array) -> Any:
        net = dqn_jax.QNetwork(obs_dim, num_actions, work.hidden_sizes, "relu", key=key)
        return eqx.partition(net, eqx.is_array)

    _, static = new_params(jax.random.key(0))

    def mlp(params: Any, x: jax.Array) -> jax.Array:
        return jax.vmap(eqx.combine(params, static))(x)

    def loss(online: Any, target: Any, obs, action, reward, discount, next_obs) -> jax.Array:
        q_tm1 = mlp(online, obs)
        q_sel = mlp(jax.lax.stop_gradient(online), next_obs)
        q_t = mlp(target, next_obs)
        a_t = jnp.argmax(q_sel, axis=-1)
        y = reward + discount * jnp.take_along_axis(q_t, a_t[:, None], axis=-1)[:, 0]
        q_a = jnp.take_along_axis(q_tm1, action[:, None], axis=-1)[:, 0]
        return 0.5 * jnp.mean((jax.lax.stop_gradient(y) - q_a) ** 2)

    def train(key: jax.Array) -> tuple:
        net_key, env_key, data_key, key = jax.random.split(key, 4)
        online, _ = new_params(net_key)
        target = online
        opt_state = optimizer.init(online)
        k1, k2, k3 = jax.random.split(data_key, 3)
        data = (
            jax.random.normal(k1, (n, obs_dim)),
            jax.random.randint(k2, (n,), 0, num_actions),
            jnp.ones(n),
            jnp.full(n, work.gamma),
            jax.random.normal(k3, (n, obs_dim)),
        )
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(env_key, work.num_envs), env_params
        )

        def env_step(carry):
            online, opt_state, obs, env_state, key, steps = carry
            key, step_key = jax.random.split(key)
            action = jnp.argmax(mlp(online, obs), axis=-1)
            obs, env_state, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, work.num_envs), env_state, action, env_params
            )
            return online, opt_state, obs, env_state, key, steps + work.num_envs

        def update(_, carry):
            online, opt_state, obs, env_state, key, steps = carry
            key, index_key = jax.random.split(key)
            index = jax.random.randint(index_key, (batch,), 0, n)
            grads = jax.grad(loss)(online, target, *(x[index] for x in data))
            step, opt_state = optimizer.update(grads, opt_state, online)
            return optax.apply_updates(online, step), opt_state, obs, env_state, key, steps

        carry = (online, opt_state, obs, env_state, key, jnp.int32(0))
        return run_rounds(work, env_step, update if updates else None, carry)

    return train


def image_floor_fn(work: ImageWork, updates: bool = True) -> Callable[[jax.Array], tuple]:
    """The compute floor of ``work`` on a MinAtar game: env steps and Adam updates, nothing else.

    As :func:`floor_fn`, with the agents' network (``dqn_jax.loop.train.new_network``: the
    ``ConvQNetwork`` of the tuned config) on ``(10, 10, C)`` float32 observations and their
    loss (Double DQN, the config's): each round steps the ``num_envs`` envs once with the greedy
    action of the online net, then takes ``gradient_steps`` Adam steps on one-step samples
    gathered by random indices from a fixed float32 array of ``buffer_size`` observations (the
    next observation of slot ``i`` is slot ``i + 1``). Left out: replay writes and bit-packing,
    n-step sums, exploration, target updates, clipping, finiteness checks and logging.
    """
    config = work.ours()
    if config.train_frequency != config.num_envs:
        raise ValueError("the floor steps the envs once a round: train_frequency must be num_envs")
    spec = config.env_spec
    optimizer = optax.adam(config.learning_rate)
    batch, n, num_envs = config.batch_size, config.buffer_size, config.num_envs
    loss_kind = config.loss

    def new_params(key: jax.Array) -> Any:
        return eqx.partition(new_network(config, spec, key), eqx.is_array)

    _, static = new_params(jax.random.key(0))

    def net(params: Any, x: jax.Array) -> jax.Array:
        return jax.vmap(eqx.combine(params, static))(x)

    def loss(online: Any, target: Any, obs, action, reward, discount, next_obs) -> jax.Array:
        q_tm1 = net(online, obs)
        q_sel = net(jax.lax.stop_gradient(online), next_obs)
        q_t = net(target, next_obs)
        a_t = jnp.argmax(q_sel, axis=-1)
        y = reward + discount * jnp.take_along_axis(q_t, a_t[:, None], axis=-1)[:, 0]
        q_a = jnp.take_along_axis(q_tm1, action[:, None], axis=-1)[:, 0]
        error = jax.lax.stop_gradient(y) - q_a
        per_sample = optax.huber_loss(error) if loss_kind == "huber" else optax.l2_loss(error)
        return jnp.mean(per_sample)

    def train(key: jax.Array) -> tuple:
        net_key, env_key, data_key, key = jax.random.split(key, 4)
        online, _ = new_params(net_key)
        target = online
        opt_state = optimizer.init(online)
        # A cheap 0/1 pattern (random numbers for 40M floats would cost the floor ~0.5 s a run).
        cells = jnp.arange(n)[:, None] * 7 + jnp.arange(spec.obs_dim)
        obs_data = (cells % 5 == 0).astype(jnp.float32).reshape(n, *spec.obs_shape)
        data = (
            jax.random.randint(data_key, (n,), 0, spec.num_actions),
            jnp.ones(n),
            jnp.full(n, config.gamma),
        )
        raw_obs, env_state = jax.vmap(spec.env.reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), spec.env_params
        )
        obs = jax.vmap(spec.preprocess)(raw_obs)

        def env_step(carry):
            online, opt_state, obs, env_state, key, steps = carry
            key, step_key = jax.random.split(key)
            action = jnp.argmax(net(online, obs), axis=-1)
            raw_obs, env_state, *_ = jax.vmap(spec.env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, num_envs), env_state, action, spec.env_params
            )
            obs = jax.vmap(spec.preprocess)(raw_obs)
            return online, opt_state, obs, env_state, key, steps + num_envs

        def update(_, carry):
            online, opt_state, obs, env_state, key, steps = carry
            key, index_key = jax.random.split(key)
            index = jax.random.randint(index_key, (batch,), 0, n)
            action, reward, discount = (x[index] for x in data)
            sample = (obs_data[index], action, reward, discount, obs_data[(index + 1) % n])
            grads = jax.grad(loss)(online, target, *sample)
            step, opt_state = optimizer.update(grads, opt_state, online)
            return optax.apply_updates(online, step), opt_state, obs, env_state, key, steps

        carry = (online, opt_state, obs, env_state, key, jnp.int32(0))
        return run_rounds(config, env_step, update if updates else None, carry)

    return train


# --- the comparison ---------------------------------------------------------------------------


def _summary(runs: list[dict[str, Any]], compile_s: float, agents: int, work: Work | ImageWork):
    times = [r["run_s"] for r in runs]
    steps = agents * work.total_timesteps
    cpu = [r["cpu_s"] for r in runs if "cpu_s" in r]  # this process's programs only
    return {
        "compile_s": compile_s,
        "runs_s": times,
        "fastest_s": min(times),
        "median_s": statistics.median(times),
        "cpu_runs_s": cpu,
        "cpu_fastest_s": min(cpu) if cpu else None,
        "steps_per_s": steps / min(times),
        "median_steps_per_s": steps / statistics.median(times),
        "env_steps": runs[-1]["env_steps"],
        "updates": runs[-1]["updates"],
    }


def compare(
    agents: tuple[int, ...] = (1, 32),
    work: Work | ImageWork | None = None,
    repeats: int = 3,
    peers_venv: Path | str = DEFAULT_VENV,
    breakdown: bool = False,
    variants: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Measures ours, Rejax and the floor on ``work`` for each number of agents.

    Returns a dict with ``work``, the Rejax ``versions``, ``loadavg`` (before and after), the
    ``command`` line and ``machine`` that measured them, and ``rows``: one per number of agents,
    with ``ours``, ``rejax`` and ``floor`` summaries (compile time, every run, fastest and median
    run, env steps/s of the fastest and of the median run, env steps and gradient steps summed
    over agents), the ratio ``ours / rejax`` and the fraction ``ours / floor``. With
    ``breakdown``, also ``ours_env`` and ``floor_env``: the same programs without gradient steps
    (learning starts at the last round for ours), which split each run into its env-step and
    update parts. ``variants`` (label -> ``DQNConfig`` field overrides) adds our train function
    on changed configs, timed in the same turns (an ablation: what each part of ours costs).
    An :class:`ImageWork` (a MinAtar game) has no Rejax side: Rejax's DQN has no conv network.
    """
    work = work or Work()
    with_rejax = isinstance(work, Work)
    python = rejax_python(Path(peers_venv)) if with_rejax else None
    loadavg = [os.getloadavg()]
    rows, versions = [], {}
    for n in agents:
        programs: dict[str, Any] = {"ours": ours(work.ours(), n)}
        if with_rejax:
            programs["rejax"] = RejaxWorker(python, work, n)
            versions = programs["rejax"].versions
        programs["floor"] = floor(work, n)
        if breakdown:
            env_only = work.ours().replace(learning_starts=work.total_timesteps)
            programs["ours_env"] = ours(env_only, n)
            programs["floor_env"] = floor(work, n, updates=False)
        for label, overrides in (variants or {}).items():
            programs[label] = ours(work.ours().replace(**overrides), n)
        runs: dict[str, list] = {name: [] for name in programs}
        for i in range(1 + repeats):  # the first round is the warm-up
            for name, program in programs.items():
                result = program.run()
                print(
                    f"{n:>3} agents, {'warm-up' if i == 0 else f'run {i}'}: {name:<9} "
                    f"{result['run_s']:7.2f} s",
                    flush=True,
                )
                if i > 0:
                    runs[name].append(result)
        if with_rejax:
            programs["rejax"].close()
        row = {"agents": n}
        for name, program in programs.items():
            row[name] = _summary(runs[name], program.compile_s, n, work)
        for name in ("ours", "rejax", "floor") if with_rejax else ("ours", "floor"):
            expected = n * work.num_updates
            if (
                row[name]["updates"] != expected
                or row[name]["env_steps"] != n * work.total_timesteps
            ):
                raise RuntimeError(
                    f"{name} did other work: {row[name]} (expected {expected} updates)"
                )
        if with_rejax:
            row["ratio_rejax"] = row["ours"]["steps_per_s"] / row["rejax"]["steps_per_s"]
        row["fraction_floor"] = row["ours"]["steps_per_s"] / row["floor"]["steps_per_s"]
        row["fraction_floor_cpu"] = row["floor"]["cpu_fastest_s"] / row["ours"]["cpu_fastest_s"]
        rows.append(row)
        loadavg.append(os.getloadavg())
    return {
        "work": work,
        "versions": versions,
        "variants": variants or {},
        "loadavg": loadavg,
        "rows": rows,
        "command": command(),
        "machine": machine(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| agents | ours (env steps/s) | Rejax (env steps/s) | floor (env steps/s) "
        "| ours / Rejax | ours / floor | compile ours / Rejax / floor (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        o, j, f = r["ours"], r["rejax"], r["floor"]
        lines.append(
            f"| {r['agents']} | {o['steps_per_s']:,.0f} | {j['steps_per_s']:,.0f} "
            f"| {f['steps_per_s']:,.0f} | **{r['ratio_rejax']:.2f}x** "
            f"| **{100 * r['fraction_floor']:.0f}%** "
            f"| {o['compile_s']:.1f} / {j['compile_s']:.1f} / {f['compile_s']:.1f} |"
        )
    return lines


def runs_table(result: dict[str, Any]) -> list[str]:
    names = [k for k in result["rows"][0] if isinstance(result["rows"][0][k], dict)]
    cpu = isinstance(result["work"], ImageWork)
    lines = [
        "| agents | program | runs (s) | fastest (s) | median (s) |"
        + (" CPU time of each run (s) |" if cpu else ""),
        "|---:|---|---|---:|---:|" + ("---|" if cpu else ""),
    ]
    for r in result["rows"]:
        for name in names:
            s = r[name]
            runs = ", ".join(f"{t:.2f}" for t in s["runs_s"])
            line = (
                f"| {r['agents']} | {name} | {runs} | {s['fastest_s']:.2f} | {s['median_s']:.2f} |"
            )
            if cpu:
                line += " " + ", ".join(f"{t:.2f}" for t in s.get("cpu_runs_s", [])) + " |"
            lines.append(line)
    return lines


def breakdown_lines(result: dict[str, Any]) -> list[str]:
    """Where the time goes, from the runs without gradient steps (``--breakdown``)."""
    lines = []
    work: Work = result["work"]
    for r in result["rows"]:
        if "ours_env" not in r:
            continue
        per_agent = work.num_updates
        o_env, f_env = r["ours_env"]["fastest_s"], r["floor_env"]["fastest_s"]
        o_upd = r["ours"]["fastest_s"] - o_env
        f_upd = r["floor"]["fastest_s"] - f_env
        lines.append(
            f"- {r['agents']} agent(s): of our fastest run ({r['ours']['fastest_s']:.2f} s), the "
            f"env steps with acting and replay writes take {o_env:.2f} s (floor: {f_env:.2f} s) "
            f"and the {per_agent:,} gradient steps per agent the rest, {o_upd:.2f} s or "
            f"{1e6 * o_upd / per_agent:.0f} us per (vmapped) step (floor: {f_upd:.2f} s, "
            f"{1e6 * f_upd / per_agent:.0f} us)."
            + (f" Rejax's whole run: {r['rejax']['fastest_s']:.2f} s." if "rejax" in r else "")
        )
    return lines


def section(result: dict[str, Any], limits: str = "") -> str:
    """The BENCHMARKS.md section of a ``compare`` result, ``limits`` (markdown) at its end."""
    work: Work = result["work"]
    v = result["versions"]
    load = ", ".join(f"{a:.1f}" for a, _, _ in result["loadavg"])
    lines = [
        *header(
            "Against Rejax and the compute floor (matched work)",
            result.get("command", ""),
            result.get("machine", ""),
        ),
        f"Rejax side: rejax {v.get('rejax')}, jax {v.get('jax')}, flax {v.get('flax')}, "
        f"gymnax {v.get('gymnax')}, in its own venv.",
        f"Matched work per agent: {work.total_timesteps:,} env steps of CartPole-v1 in "
        f"{work.num_envs} vmapped envs; after every step of the {work.num_envs} envs, "
        f"{work.gradient_steps} gradient steps (the first in the round where "
        f"{work.learning_starts:,} env steps are reached: {work.num_updates:,} in all, checked on "
        f"every program's final state) on batches of {work.batch_size}; replay capacity "
        f"{work.buffer_size:,}; 64-64 ReLU MLP, Double DQN, MSE, Adam; Polyak target step "
        f"{work.tau} every env step; no evaluation during the run. Ours is "
        "`DQNConfig(n_step=1, layer_norm=False, lr_decay=False, train_frequency=num_envs, "
        "eval_episodes=0, ...)`, the algorithm Rejax runs (our defaults add LayerNorm and 3-step "
        "targets); Rejax is `DQN.create(num_epochs=2, fill_buffer=learning_starts - num_envs - 1, "
        "target_update_freq=num_envs, polyak=1 - tau, eval_freq=total_timesteps, ...)`, its "
        "evaluation replaced by a no-op and the gymnax 1.0 six-value step adapted to the five "
        "values Rejax unpacks. The floor is one jitted scan of only the env steps (greedy actions "
        "from the same `QNetwork`) and the same Adam updates on batches gathered by random indices "
        "from a fixed array (no replay writes, exploration, target updates, clipping or logging).",
        f"Agents > 1 are seeds vmapped into one program. Compile excluded; each program ran one "
        f"warm-up and then {len(result['rows'][0]['ours']['runs_s'])} times, the programs in turn "
        "so that other load falls on all alike; env steps/s are summed over agents, from the "
        f"fastest run. Load average (1 min) at the start and after each row: {load} "
        f"on {os.cpu_count()} cores.",
        "",
        *table(result),
        "",
        "Every run (`ours_env` and `floor_env` are the same programs without gradient steps):",
        "",
        *runs_table(result),
    ]
    if any("ours_env" in r for r in result["rows"]):
        lines += ["", "Where the time goes:", "", *breakdown_lines(result)]
    if limits:
        lines += ["", limits.strip()]
    return "\n".join(lines)


def image_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| agents | ours (env steps/s) | floor (env steps/s) | ours / floor (wall) "
        "| ours / floor (CPU time) | compile ours / floor (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        o, f = r["ours"], r["floor"]
        lines.append(
            f"| {r['agents']} | {o['steps_per_s']:,.0f} | {f['steps_per_s']:,.0f} "
            f"| **{100 * r['fraction_floor']:.0f}%** | **{100 * r['fraction_floor_cpu']:.0f}%** "
            f"| {o['compile_s']:.1f} / {f['compile_s']:.1f} |"
        )
    return lines


def image_section(result: dict[str, Any], limits: str = "") -> str:
    """The BENCHMARKS.md section of a ``compare`` result on an :class:`ImageWork`."""
    work: ImageWork = result["work"]
    config = work.ours()
    load = ", ".join(f"{a:.1f}" for a, _, _ in result["loadavg"])
    variants = "; ".join(
        f"`{label}`: " + ", ".join(f"`{k}={v!r}`" for k, v in overrides.items())
        for label, overrides in result.get("variants", {}).items()
    )
    lines = [
        *header(
            f"Conv Q-network against the compute floor ({work.env_name}, matched work)",
            result.get("command", ""),
            result.get("machine", ""),
        ),
        f"Matched work per agent: {work.total_timesteps:,} env steps of {work.env_name} in "
        f"{config.num_envs} vmapped envs; after every step of the {config.num_envs} envs, "
        f"{config.gradient_steps} gradient steps (the first in the round where "
        f"{config.learning_starts:,} env steps are reached: {work.num_updates:,} in all, checked "
        f"on both programs' final states) on batches of {config.batch_size} observations "
        "(10, 10, C); the same network (`ConvQNetwork`: one 16-filter 3x3 conv, 128 dense with "
        "LayerNorm, ReLU) acting greedily in the floor; each update the Double DQN "
        f"{'Huber' if config.loss == 'huber' else 'squared-error'} loss "
        "(online net over obs, differentiated; online and target nets over next_obs, constant) "
        f"and an Adam step; replay capacity {config.buffer_size:,}; no evaluation during the "
        "run (`eval_episodes=0`: the user's evaluation episodes are work of their own, matched "
        "by leaving them out of both). Ours is "
        f"`DQNConfig.for_env({work.env_name!r}, total_timesteps={work.total_timesteps}, "
        f"log_interval={work.total_timesteps}, eval_episodes=0)`: the tuned MinAtar settings. "
        "The floor is one jitted scan of only the env steps (greedy actions) and the Adam "
        "updates on one-step samples gathered by random indices from a fixed float32 array of "
        f"{config.buffer_size:,} observations. Ours does on top, as the algorithm asks: replay "
        "writes with bit-packed observations (and unpacking the sampled batch), "
        + (f"{config.n_step}-step returns, " if config.n_step > 1 else "")
        + "epsilon-greedy exploration, clipping by global norm, hard target updates "
        f"every {config.target_update_period:,} env steps, the finiteness checks of every "
        "update and the logging sums. Rejax is absent: its DQN has no conv network.",
        (f"Environment: `XLA_FLAGS={result['xla_flags']!r}`. " if result.get("xla_flags") else "")
        + f"Compile excluded; each program ran one warm-up and then "
        f"{len(result['rows'][0]['ours']['runs_s'])} times, the programs in turn so that other "
        "load falls on all alike; env steps/s from the fastest run. The machine was shared "
        "with other jobs: besides wall time, the table gives the fraction by CPU time "
        "(`time.process_time`, all threads of the process, fastest run of each), which other "
        f"load disturbs less. Load average (1 min) at the start and after each row: {load} on "
        f"{os.cpu_count()} cores.",
        "",
        *image_table(result),
        "",
        "Every run"
        + (
            " (`ours_env` and `floor_env` are the same programs without gradient steps"
            if any("ours_env" in r for r in result["rows"])
            else ""
        )
        + (f"; variants of ours: {variants}" if variants else "")
        + ("):" if any("ours_env" in r for r in result["rows"]) or variants else ":"),
        "",
        *runs_table(result),
    ]
    if any("ours_env" in r for r in result["rows"]):
        lines += ["", "Where the time goes:", "", *breakdown_lines(result)]
    if limits:
        lines += ["", limits.strip()]
    return "\n".join(lines)


def report(result: dict[str, Any], limits: str = "", write: bool = False) -> None:
    """Prints the tables of a ``compare`` result; with ``write``, puts its section (``limits``,
    markdown, at the end) into BENCHMARKS.md."""
    image = isinstance(result["work"], ImageWork)
    print("\n".join(image_table(result) if image else table(result)))
    print("\n".join(runs_table(result)))
    print("\n".join(breakdown_lines(result)))
    if write and image:
        write_section("benchmark-floor-minatar", image_section(result, limits))
    elif write:
        write_section("benchmark-peers", section(result, limits))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--env",
        default="CartPole-v1",
        help="CartPole-v1 (ours, Rejax, floor) or a MinAtar game (ours and the conv floor)",
    )
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 32])
    parser.add_argument(
        "--timesteps", type=int, help="env steps per agent (20,000; MinAtar 50,000)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peers-venv", type=Path, default=DEFAULT_VENV, help="venv with rejax (made if missing)"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also time ours and the floor without updates"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="LABEL:FIELD=VALUE,...: also time ours on a changed config (an ablation)",
    )
    parser.add_argument("--limits", type=Path, help="markdown file: what limits us")
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: render the figures of an earlier --json"
    )
    parser.add_argument("--write", action="store_true", help="write the section to BENCHMARKS.md")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        if "env_name" in saved["work"]:
            result = {**saved, "work": ImageWork(**saved["work"])}
        else:
            work_fields = {**saved["work"], "hidden_sizes": tuple(saved["work"]["hidden_sizes"])}
            result = {**saved, "work": Work(**work_fields)}
    else:
        if args.env == "CartPole-v1":
            work = Work(total_timesteps=args.timesteps or Work.total_timesteps)
        else:
            work = ImageWork(args.env, args.timesteps or ImageWork.total_timesteps)
        variants = dict(parse_config(text) for text in args.variant)
        result = compare(
            tuple(args.agents), work, args.repeats, args.peers_venv, args.breakdown, variants
        )
    if args.json:
        saved = {**result, "work": dataclasses.asdict(result["work"])}
        args.json.write_text(json.dumps(saved, indent=1))
    report(result, args.limits.read_text() if args.limits else "", args.write)


if __name__ == "__main__":
    main()
