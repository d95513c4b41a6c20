"""The train loop wires every switch and traced number into the blocks: checked by value.

Each run below is the real compiled ``make_train`` with spies on what the loop hands to the
blocks (``LoopSpy``): the policies, ``replay.gather_sequences``, ``prioritized.sample``,
``prioritized.update``, ``prioritized.resort``, ``td_update`` and ``run_episodes``. Every check
compares what the loop did with a value computed here by hand (schedules, crossings, n-step sums
from the replay contents, importance weights from the priorities) or by an independent oracle
(a hand-written Q-network and rlax's TD errors and losses). No check compares the loop with
itself. The three runs together set every ``DQNConfig`` switch to a non-default value somewhere,
and every ``HParams`` field to a value other than its config default, so reading a config field
where the traced one belongs fails too.

The callbacks arrive in program order: env steps (one policy call per env) and, once learning
has started, the round's gradient steps. ``env_steps`` at a call is the number of policy calls
before it (one per transition); the timing checks below would fail if that order broke.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import rlax
from conftest import LOOP, Call, LoopSpy, assert_bitwise, brute_force_n_step, key
from gymnax.environments.classic_control.cartpole import CartPole

from dqn_jax import DQNConfig, HParams, make_train, sum_tree
from dqn_jax.config import HPARAM_RANGES

MAX_STEPS = 12  # CartPole time limit here: episodes end by truncation as well as termination

# --- the three runs -------------------------------------------------------------------------------

# Sizes shared by the runs; each run sets its own switches and sizes on top.
BASE = dict(eval_episodes=0, hidden_sizes=(8,))

RUNS: dict[str, tuple[dict[str, Any], dict[str, float]]] = {
    # uniform replay, 3-step Double DQN, Huber, lr decay, epsilon-greedy, tanh MLP with LayerNorm;
    # Polyak target with a period shorter than a round (1 or 2 crossings per round); the buffer
    # wraps three times.
    "uniform": (
        dict(
            total_timesteps=160,
            num_envs=2,
            train_frequency=4,
            gradient_steps=2,
            batch_size=8,
            buffer_size=48,
            learning_starts=30,
            log_interval=80,
            n_step=3,
            double=True,
            loss="huber",
            lr_decay=True,
            prioritized=None,
            exploration="epsilon_greedy",
            hidden_sizes=(8, 6),
            activation="tanh",
            layer_norm=True,
            dueling=None,
        ),
        dict(
            learning_rate=0.02,
            gamma=0.9,
            tau=0.3,
            target_update_period=3,
            epsilon_start=0.9,
            epsilon_end=0.2,
            epsilon_decay_steps=100,
            max_grad_norm=0.5,
            huber_delta=0.7,
        ),
    ),
    # proportional PER, one-step DQN (no Double), MSE, constant learning rate, Boltzmann, dueling
    # (mean) ReLU MLP; hard target copies with 0 or 1 crossing per round; greedy evaluation.
    "proportional": (
        dict(
            total_timesteps=160,
            num_envs=4,
            train_frequency=8,
            gradient_steps=1,
            batch_size=8,
            buffer_size=64,
            learning_starts=40,
            log_interval=80,
            eval_episodes=2,
            n_step=1,
            double=False,
            loss="mse",
            lr_decay=False,
            prioritized="proportional",
            exploration="boltzmann",
            activation="relu",
            layer_norm=False,
            dueling="mean",
        ),
        dict(
            learning_rate=0.005,
            gamma=0.8,
            tau=1.0,
            target_update_period=12,  # no crossing in the round before the first evaluation
            max_grad_norm=100.0,
            per_alpha=0.7,
            per_beta=0.5,
            per_eps=0.01,
            temperature_start=2.0,
            temperature_end=0.1,
            temperature_decay_steps=100,
        ),
    ),
    # rank-based PER with 2-step returns, Double DQN, dueling (max) ELU MLP, re-sorted every 4
    # rounds.
    "rank": (
        dict(
            total_timesteps=128,
            num_envs=2,
            train_frequency=4,
            gradient_steps=1,
            batch_size=8,
            buffer_size=40,
            learning_starts=16,
            log_interval=64,
            n_step=2,
            double=True,
            loss="mse",
            # built at run time, so a loop that compared kinds by identity would not resort
            prioritized="".join(["ra", "nk"]),
            rank_resort_interval=16,
            exploration="epsilon_greedy",
            activation="elu",
            layer_norm=False,
            dueling="max",
        ),
        dict(
            learning_rate=0.01,
            gamma=0.7,
            tau=0.5,
            target_update_period=6,
            epsilon_start=0.5,
            epsilon_end=0.5,
            epsilon_decay_steps=0,
            per_alpha=0.5,
            per_beta=0.2,
            per_eps=0.1,
        ),
    ),
}

# What the loop calls, as it names it: the blocks it imports and the modules it reaches them by.
SPIED = (
    (LOOP, "epsilon_greedy"),
    (LOOP, "boltzmann"),
    (LOOP, "td_update"),
    (LOOP, "run_episodes"),
    (LOOP.replay, "gather_sequences"),
    (LOOP.prioritized, "sample"),
    (LOOP.prioritized, "update"),
    (LOOP.prioritized, "resort"),
)
POLICIES = ("epsilon_greedy", "boltzmann")


@dataclasses.dataclass
class Run:
    config: DQNConfig
    hp: dict[str, float]  # the traced values train ran with (the run's overrides on top)
    result: Any
    calls: list[tuple[int, Call]]  # (env steps when the call ran, call)

    def of(self, name: str) -> list[tuple[int, Call]]:
        return [(t, c) for t, c in self.calls if c.name == name]

    @property
    def updates(self) -> list[tuple[int, Call]]:
        return self.of("td_update")


def _record(name: str) -> Run:
    config_kwargs, overrides = RUNS[name]
    config = DQNConfig(**{**BASE, **config_kwargs})
    for field, value in overrides.items():
        assert getattr(config, field) != value, f"{field} must differ from the config default"
    env, env_params = gymnax.make("CartPole-v1")
    env_params = env_params.replace(max_steps_in_episode=MAX_STEPS)
    with pytest.MonkeyPatch.context() as monkeypatch:
        spy = LoopSpy(monkeypatch)
        for owner, attribute in SPIED:
            spy.spy(owner, attribute)
        train = make_train(config, env=env, env_params=env_params)
        result = jax.jit(train)(key(0), HParams.from_config(config, **overrides))
        result = jax.block_until_ready(result)
        jax.effects_barrier()
    hp = {name: float(getattr(config, name)) for name in HPARAM_RANGES}
    hp.update(overrides)
    calls, policy_calls = [], 0
    for call in spy.calls:
        if call.name in POLICIES:
            policy_calls += 1
        calls.append((policy_calls, call))  # one policy call per transition
    return Run(config, hp, result, calls)


@pytest.fixture(scope="module")
def uniform() -> Run:
    return _record("uniform")


@pytest.fixture(scope="module")
def proportional() -> Run:
    return _record("proportional")


@pytest.fixture(scope="module")
def rank() -> Run:
    return _record("rank")


@pytest.fixture(scope="module", params=list(RUNS))
def run(request) -> Run:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module", params=["proportional", "rank"])
def per_run(request) -> Run:
    return request.getfixturevalue(request.param)


# --- independent oracles --------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": lambda x: jnp.maximum(x, 0.0),
    "tanh": jnp.tanh,
    "elu": lambda x: jnp.where(x > 0, x, jnp.expm1(jnp.minimum(x, 0.0))),
}


def q_values(params: Any, obs: jax.Array, config: DQNConfig) -> jax.Array:
    """Q-values of one observation computed from the parameters by hand: the MLP of
    ``config.hidden_sizes`` with ``config.activation``, LayerNorm (eps 1e-5) before each
    activation if ``config.layer_norm``, and the dueling head ``V + A - mean/max A``."""
    x = obs
    for i, layer in enumerate(params.layers[:-1]):
        x = layer.weight @ x + layer.bias
        if config.layer_norm:
            norm = params.norms[i]
            x = (x - x.mean()) / jnp.sqrt(x.var() + 1e-5) * norm.weight + norm.bias
        x = ACTIVATIONS[config.activation](x)
    out = params.layers[-1].weight @ x + params.layers[-1].bias
    if config.dueling is None:
        return out
    value = (params.value_head.weight @ x + params.value_head.bias)[0]
    baseline = out.mean() if config.dueling == "mean" else out.max()
    return value + out - baseline


@functools.partial(jax.jit, static_argnames="config")
def q_batch(params, obs, config):
    return jax.vmap(q_values, in_axes=(None, 0, None))(params, obs, config)


@functools.partial(jax.jit, static_argnames="config")
def td_oracle(online, target, batch, weight, huber_delta, config):
    """TD errors, loss and gradient of one update from rlax and the hand-written network."""

    def loss_fn(online):
        q_tm1 = q_batch(online, batch.obs, config)
        q_t = q_batch(target, batch.next_obs, config)
        if config.double:
            q_t_selector = q_batch(online, batch.next_obs, config)
            td = jax.vmap(rlax.double_q_learning)(
                q_tm1, batch.action, batch.reward, batch.discount, q_t, q_t_selector
            )
        else:
            td = jax.vmap(rlax.q_learning)(q_tm1, batch.action, batch.reward, batch.discount, q_t)
        if config.loss == "huber":
            per_sample = rlax.huber_loss(td, huber_delta)
        else:
            per_sample = rlax.l2_loss(td)
        return jnp.mean(weight * per_sample), td

    (loss, td), grad = jax.value_and_grad(loss_fn, has_aux=True)(online)
    return td, loss, grad


def flat(tree: Any) -> np.ndarray:
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)]).astype(np.float64)


def adam_state(opt_state: Any) -> Any:
    """The ``ScaleByAdamState`` inside the optimiser state (its ``mu``, ``nu``, ``count``)."""
    found = [
        s
        for s in jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, optax.ScaleByAdamState))
        if isinstance(s, optax.ScaleByAdamState)
    ]
    assert len(found) == 1
    return found[0]


def schedule(start: float, end: float, duration: float, t: float) -> float:
    return end if t >= duration else start + (end - start) * t / duration


def leaves_of(priorities: Any, capacity: int) -> np.ndarray:
    """Slot priorities from the sum-tree's documented layout (leaf ``j`` is node ``size + j``)."""
    nodes = np.asarray(priorities.tree.nodes, np.float64)
    return nodes[nodes.shape[0] // 2 :][:capacity]


def stored_index(slot: int, env_steps: int, capacity: int) -> int:
    """The transition number (0, 1, ... in writing order) that ``slot`` holds at ``env_steps``."""
    oldest = max(0, env_steps - capacity)
    return oldest + (slot - oldest) % capacity


# --- env steps, exploration and the replay --------------------------------------------------------


def test_every_env_step_calls_the_configured_policy_once_per_env(run):
    config = run.config
    policy = "boltzmann" if config.exploration == "boltzmann" else "epsilon_greedy"
    other = ({"boltzmann", "epsilon_greedy"} - {policy}).pop()
    assert len(run.of(policy)) == config.total_timesteps
    assert run.of(other) == []
    assert int(run.result.state.env_steps) == config.total_timesteps


def test_exploration_level_follows_its_schedule_in_env_steps(run):
    config, hp = run.config, run.hp
    if config.exploration == "boltzmann":
        name = "boltzmann"
        fields = ("temperature_start", "temperature_end", "temperature_decay_steps")
    else:
        name = "epsilon_greedy"
        fields = ("epsilon_start", "epsilon_end", "epsilon_decay_steps")
    level = next(p for p in ("temperature", "epsilon") if p in run.of(name)[0][1].args)
    for i, (_, call) in enumerate(run.of(name)):
        env_steps = (i // config.num_envs) * config.num_envs  # counted before the step
        expected = schedule(*(hp[f] for f in fields), env_steps)
        np.testing.assert_allclose(call.args[level], expected, rtol=1e-6, err_msg=str(i))


def _policy_steps(run: Run):
    """For every env step: the ``(Q-values, action)`` of its ``num_envs`` policy calls (in the
    order the callbacks of the vmapped policy arrive, which need not be the envs' order) and the
    online parameters in force (the initial ones, then each update's output)."""
    name = "boltzmann" if run.config.exploration == "boltzmann" else "epsilon_greedy"
    online = run.updates[0][1].args["params"].online  # no update before it: the initial net
    calls = []
    for _, call in run.calls:
        if call.name == "td_update":
            online = call.out[0].online
        elif call.name == name:
            calls.append((call.args["q_values"], int(call.out), online))
    num_envs = run.config.num_envs
    return [
        ([(q, a) for q, a, _ in calls[i : i + num_envs]], calls[i][2])
        for i in range(0, len(calls), num_envs)
    ]


def _snapshots(run: Run):
    """The replay at each sampled batch: ``(env_steps, ReplayState)``."""
    return [(t, c.args["state"]) for t, c in run.of("gather_sequences")]


def test_replay_holds_the_last_buffer_size_transitions(run):
    config = run.config
    snapshots = _snapshots(run)
    assert snapshots
    for env_steps, replay in snapshots:
        assert replay.storage.obs.shape[0] == config.buffer_size
        assert int(replay.size) == min(env_steps, config.buffer_size)
        assert int(replay.position) == env_steps % config.buffer_size
    assert int(run.result.state.replay.size) == config.buffer_size  # every run wraps round


def test_policy_acts_on_the_online_q_values_and_its_action_is_stored(run):
    """Each env's policy call gets the current online network's Q-values of that env's
    observation, and the transition stored for that env and step carries the action it
    returned."""
    config = run.config
    steps = _policy_steps(run)
    snapshots = [*_snapshots(run), (config.total_timesteps, run.result.state.replay)]
    checked = set()
    for env_steps, replay in snapshots:
        for t in range(max(0, env_steps - config.buffer_size), env_steps):
            if t in checked:
                continue
            checked.add(t)
            slot = t % config.buffer_size
            calls, online = steps[t // config.num_envs]
            obs = replay.storage.obs[slot]
            expected = np.asarray(q_batch(online, obs[None], config))[0]
            matches = [a for q, a in calls if np.allclose(q, expected, rtol=1e-5, atol=1e-5)]
            assert len(matches) == 1, (t, calls, expected)
            assert int(replay.storage.action[slot]) == matches[0], t
    assert checked == set(range(config.total_timesteps))


def test_share_of_greedy_actions_follows_the_epsilon_schedule(uniform):
    config, hp = uniform.config, uniform.hp
    calls = [call for step, _ in _policy_steps(uniform) for call in step]
    greedy = [action == int(np.argmax(q)) for q, action in calls]
    num_actions = len(calls[0][0])
    p = np.array(
        [
            1.0
            - schedule(
                hp["epsilon_start"],
                hp["epsilon_end"],
                hp["epsilon_decay_steps"],
                (i // config.num_envs) * config.num_envs,
            )
            * (1.0 - 1.0 / num_actions)
            for i in range(len(calls))
        ]
    )
    z = (np.sum(greedy) - p.sum()) / np.sqrt(np.sum(p * (1 - p)))
    assert abs(z) < 4, (np.sum(greedy), p.sum())


# --- when and how often the loop learns -----------------------------------------------------------


def test_gradient_steps_run_every_train_frequency_once_learning_starts(run):
    config = run.config
    at = [t for t, _ in run.updates]
    rounds = range(1, config.total_timesteps // config.train_frequency + 1)
    round_ends = [r * config.train_frequency for r in rounds]
    # the first round whose env steps reach learning_starts, and every round after it
    learning = [t for t in round_ends if t >= config.learning_starts]
    assert learning[0] - config.train_frequency < config.learning_starts
    assert at == [t for t in learning for _ in range(config.gradient_steps)]
    assert len(at) == config.num_updates == int(run.result.state.updates)
    counts = [int(adam_state(c.out[1]).count) for _, c in run.updates]
    assert counts == list(range(1, config.num_updates + 1))


def test_each_update_starts_from_the_previous_ones_result(run):
    previous = None
    for _, call in run.updates:
        if previous is not None:
            online, opt_state = previous
            np.testing.assert_array_equal(flat(call.args["params"].online), flat(online))
            np.testing.assert_array_equal(flat(call.args["opt_state"]), flat(opt_state))
        previous = call.out[0].online, call.out[1]
    np.testing.assert_array_equal(
        flat(run.result.state.params.online), flat(run.updates[-1][1].out[0].online)
    )


def test_batches_are_n_step_sequences_of_one_env_from_the_replay(run):
    """Each learning sample: the start slot holds a stored transition whose next n - 1 steps of
    the same env (num_envs slots apart) are stored too, and reward, discount and bootstrap
    observation are the n-step sum with the traced gamma, computed here from the replay."""
    config, gamma = run.config, np.float32(run.hp["gamma"])
    n, span = config.n_step, (config.n_step - 1) * config.num_envs
    gathers, updates = run.of("gather_sequences"), run.updates
    assert len(gathers) == len(updates)
    ended = 0
    for (env_steps, gather), (_, update) in zip(gathers, updates, strict=True):
        storage = gather.args["state"].storage
        batch = update.args["batch"]
        assert batch.obs.shape[0] == config.batch_size
        for i, start in enumerate(np.asarray(gather.args["start"])):
            t = stored_index(int(start), env_steps, config.buffer_size)
            assert t + span < env_steps, (env_steps, t)  # the whole sequence is stored
            slots = [(start + k * config.num_envs) % config.buffer_size for k in range(n)]
            np.testing.assert_array_equal(batch.obs[i], storage.obs[slots[0]])
            assert batch.action[i] == storage.action[slots[0]]
            ret, discount, last = brute_force_n_step(
                storage.reward[slots], storage.terminated[slots], storage.truncated[slots], gamma
            )
            ended += last < n - 1 or discount == 0
            np.testing.assert_allclose(batch.reward[i], ret, rtol=1e-6)
            np.testing.assert_allclose(batch.discount[i], discount, rtol=1e-6)
            np.testing.assert_array_equal(batch.next_obs[i], storage.next_obs[slots[last]])
    assert ended > 0  # some samples cross an episode's end


# --- the TD update --------------------------------------------------------------------------------


def test_td_update_matches_the_rlax_oracle(run):
    """TD errors, loss and gradient norm of every update equal rlax's (Double) Q-learning with
    the configured loss, Huber delta and importance weights, on the hand-written network."""
    config = run.config
    for _, call in run.updates:
        args, info = call.args, call.out[2]
        weight = args["weight"]
        if config.prioritized is None:
            assert weight is None
            weight = np.ones(config.batch_size, np.float32)
        params = args["params"]
        td, loss, grad = td_oracle(
            params.online, params.target, args["batch"], weight, run.hp["huber_delta"], config
        )
        np.testing.assert_allclose(info.td_error, td, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(info.loss, loss, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(info.grad_norm, np.linalg.norm(flat(grad)), rtol=1e-4)
        q_a = np.take_along_axis(
            np.asarray(q_batch(params.online, args["batch"].obs, config)),
            np.asarray(args["batch"].action)[:, None],
            axis=1,
        )
        np.testing.assert_allclose(info.q_mean, q_a.mean(), rtol=1e-4, atol=1e-6)


def test_double_dqn_and_huber_change_the_targets_where_the_loop_uses_them(uniform):
    """Guards the oracle test above against a run where the switches happen not to matter: some
    samples' online and target nets pick different next actions, and some |TD errors| pass the
    Huber delta."""
    config, disagree, beyond = uniform.config, 0, 0
    for _, call in uniform.updates:
        params, batch = call.args["params"], call.args["batch"]
        select = np.argmax(q_batch(params.online, batch.next_obs, config), axis=1)
        value = np.argmax(q_batch(params.target, batch.next_obs, config), axis=1)
        disagree += np.sum((select != value) & (np.asarray(batch.discount) > 0))
        beyond += np.sum(np.abs(call.out[2].td_error) > uniform.hp["huber_delta"])
    assert disagree > 0 and beyond > 0


def test_gradient_is_clipped_to_max_grad_norm_before_adam(run):
    """Adam's first moment moves by (1 - b1) times the clipped gradient; that gradient is the
    oracle's, scaled down to norm max_grad_norm where it was longer."""
    config, max_norm, clipped = run.config, run.hp["max_grad_norm"], 0
    ones = np.ones(config.batch_size, np.float32)
    for _, call in run.updates:
        args = call.args
        weight = ones if args["weight"] is None else args["weight"]
        params, batch = args["params"], args["batch"]
        _, _, grad = td_oracle(
            params.online, params.target, batch, weight, run.hp["huber_delta"], config
        )
        grad = flat(grad)
        norm = np.linalg.norm(grad)
        mu_before = flat(adam_state(args["opt_state"]).mu)
        mu_after = flat(adam_state(call.out[1]).mu)
        applied = (mu_after - 0.9 * mu_before) / 0.1
        expected = grad * min(1.0, max_norm / norm)
        np.testing.assert_allclose(applied, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max())
        clipped += norm > max_norm
    if run.config.prioritized is None:
        assert clipped > 0  # the uniform run clips some of its gradients


def test_learning_rate_applied_is_the_traced_one_decayed_if_configured(run):
    """Recovered from each Adam step: ``new - old = -lr_k * mu_hat / (sqrt(nu_hat) + 1e-8)``."""
    config, lr = run.config, run.hp["learning_rate"]
    for k, (_, call) in enumerate(run.updates):
        adam = adam_state(call.out[1])
        count = int(adam.count)
        mu_hat = flat(adam.mu) / (1 - 0.9**count)
        nu_hat = flat(adam.nu) / (1 - 0.999**count)
        direction = mu_hat / (np.sqrt(nu_hat) + 1e-8)
        step = flat(call.out[0].online) - flat(call.args["params"].online)
        big = np.abs(direction) > 0.1
        expected = lr * (1.0 - k / config.num_updates) if config.lr_decay else lr
        np.testing.assert_allclose(-step[big] / direction[big], expected, rtol=1e-3, err_msg=str(k))


# --- the target network ---------------------------------------------------------------------------


def test_target_moves_by_tau_at_each_crossing_of_the_period(run):
    """After a round that crossed k multiples of target_update_period, the target is
    ``online + (1 - tau)^k (target - online)``, with k counted here from the env steps."""
    config, tau, period = run.config, run.hp["tau"], int(run.hp["target_update_period"])
    updates = run.updates
    # Learning is off before the first update: the target then equals the (unchanged) online net.
    first = updates[0][1].args["params"]
    np.testing.assert_array_equal(flat(first.target), flat(first.online))
    ks = []
    for (t, call), (t_next, next_call) in zip(updates, [*updates[1:], (None, None)], strict=True):
        if t_next == t:
            continue  # same round: the target does not move between its gradient steps
        k = t // period - (t - config.train_frequency) // period
        ks.append(k)
        online, target = flat(call.out[0].online), flat(call.args["params"].target)
        expected = online + (1.0 - tau) ** k * (target - online)
        after = (
            run.result.state.params.target if next_call is None else next_call.args["params"].target
        )
        np.testing.assert_allclose(flat(after), expected, rtol=1e-5, atol=1e-6, err_msg=str(t))
    assert len(set(ks)) > 1, ks  # rounds with different numbers of crossings


def test_a_period_shorter_than_a_round_moves_the_target_from_the_first_round(monkeypatch):
    """Learning from round 0 (learning_starts = train_frequency = 8) with a period of 4: every
    round, the first included, crosses it twice, so after each round's update the target is
    ``online + (1 - tau)^2 (target - online)``."""
    config = DQNConfig(
        total_timesteps=32, num_envs=1, train_frequency=8, buffer_size=32, batch_size=8,
        learning_starts=8, log_interval=32, eval_episodes=0, hidden_sizes=(8,), n_step=1,
        tau=0.5, target_update_period=4,
    )  # fmt: skip
    assert config.first_learning_round == 0 and config.num_updates == 4
    spy = LoopSpy(monkeypatch)
    spy.spy(LOOP, "td_update")
    result = jax.jit(make_train(config))(key(0))
    jax.block_until_ready(result)
    jax.effects_barrier()
    assert len(spy.calls) == 4  # one per round
    afters = [c.args["params"].target for c in spy.calls[1:]] + [result.state.params.target]
    for call, after in zip(spy.calls, afters, strict=True):
        online, target = flat(call.out[0].online), flat(call.args["params"].target)
        assert not np.allclose(online, target)  # the target has somewhere to move
        np.testing.assert_allclose(flat(after), online + 0.25 * (target - online), rtol=1e-5)


def test_rounds_past_2_to_the_24_are_counted_in_integers(monkeypatch):
    """Round indices above 2**24 have no exact float32 form, so the loop must count rounds in
    integers. The last interval of a 2**28-step run (rounds 2**26 - 4 to 2**26 - 1, 4 env steps
    each) crosses a period of 8 env steps twice, at 2**28 - 8 and at 2**28: the target moves
    in its 2nd and 4th rounds, once each."""
    config = DQNConfig(
        total_timesteps=2**28, num_envs=1, train_frequency=4, buffer_size=16, batch_size=4,
        learning_starts=16, log_interval=16, eval_episodes=0, hidden_sizes=(8,), n_step=1,
        tau=1.0, target_update_period=8,
    )  # fmt: skip
    last = config.num_logs - 1
    assert last * config.log_interval // config.train_frequency == 2**26 - 4
    spy = LoopSpy(monkeypatch)
    spy.spy(LOOP, "update_target")
    train = make_train(config)
    hparams = HParams.from_config(config)
    state = train.init(key(0), hparams)
    # a traced interval: the step then skips its Python range check, as inside the run's scan
    jax.block_until_ready(jax.jit(train.step)(state, hparams, jnp.int32(last)))
    jax.effects_barrier()
    assert [int(c.args["num_updates"]) for c in spy.calls] == [1, 1]


# --- prioritized replay ---------------------------------------------------------------------------


def test_only_complete_sequences_have_a_priority(per_run):
    """At each draw the positive priorities are exactly the stored slots whose n - 1 later steps
    of the same env are stored too."""
    config = per_run.config
    span = (config.n_step - 1) * config.num_envs
    for env_steps, call in per_run.of("sample"):
        positive = leaves_of(call.args["state"], config.buffer_size) > 0
        complete = np.zeros(config.buffer_size, bool)
        for t in range(max(0, env_steps - config.buffer_size), env_steps - span):
            complete[t % config.buffer_size] = True
        np.testing.assert_array_equal(positive, complete, err_msg=str(env_steps))


def test_priorities_land_in_the_slots_written_by_three_envs():
    """With 3 envs the write position steps by 3, not a power of two: each env step's new slots
    are ``position + [0, 1, 2]`` modulo the capacity. After a run that wrapped the buffer, the
    slots with a positive priority are exactly those whose 2-step sequence is complete: all but
    the 3 newest."""
    config = DQNConfig(
        total_timesteps=96, num_envs=3, train_frequency=6, gradient_steps=1, batch_size=4,
        buffer_size=30, learning_starts=12, log_interval=48, eval_episodes=0, hidden_sizes=(8,),
        n_step=2, prioritized="proportional",
    )  # fmt: skip
    state = jax.jit(make_train(config))(key(0)).state
    position = int(state.replay.position)
    assert int(state.replay.size) == config.buffer_size  # wrapped: 96 transitions in 30 slots
    assert position == config.total_timesteps % config.buffer_size
    newest = (position - 1 - np.arange(config.num_envs)) % config.buffer_size
    complete = np.ones(config.buffer_size, bool)
    complete[newest] = False
    np.testing.assert_array_equal(leaves_of(state.priorities, config.buffer_size) > 0, complete)


def test_importance_weights_reach_the_update_as_the_formula(per_run):
    """The update receives ``w_i = (N P(i))^-beta / max_j w_j`` with ``P(i) = p_i / sum p``, N
    the sampleable slots and beta rising linearly from per_beta to 1 over the run."""
    config, hp = per_run.config, per_run.hp
    span = (config.n_step - 1) * config.num_envs
    samples, gathers = per_run.of("sample"), per_run.of("gather_sequences")
    updates = per_run.updates
    assert len(samples) == len(gathers) == len(updates) == config.num_updates
    for (env_steps, sample), (_, gather), (_, update) in zip(
        samples, gathers, updates, strict=True
    ):
        beta = hp["per_beta"] + (1 - hp["per_beta"]) * min(env_steps / config.total_timesteps, 1)
        num_valid = min(env_steps, config.buffer_size) - span
        np.testing.assert_allclose(sample.args["beta"], beta, rtol=1e-5)
        assert int(sample.args["num_valid"]) == num_valid
        index = np.asarray(sample.out[0])
        np.testing.assert_array_equal(gather.args["start"], index)  # the drawn slots are learned
        p = leaves_of(sample.args["state"], config.buffer_size)
        w = (num_valid * p[index] / p.sum()) ** -beta
        weight = update.args["weight"]
        assert weight is not None
        np.testing.assert_allclose(weight, w / w.max(), rtol=1e-4)
        assert np.all(weight > 0) and np.all(weight <= 1) and np.max(weight) == 1.0


def test_priorities_written_back_from_the_new_td_errors(per_run):
    """proportional: ``p = (|delta| + per_eps)^per_alpha``; rank: ``p = rank^-per_alpha`` with
    the rank of |delta| in the last sorted snapshot; for the drawn slots, from the update's TD
    errors."""
    config, hp = per_run.config, per_run.hp
    samples, writes, updates = per_run.of("sample"), per_run.of("update"), per_run.updates
    assert len(writes) == len(updates)
    for (_, sample), (_, write), (_, update) in zip(samples, writes, updates, strict=True):
        index = np.asarray(sample.out[0])
        np.testing.assert_array_equal(write.args["index"], index)
        td = np.abs(np.asarray(update.out[2].td_error, np.float64))
        if config.prioritized == "proportional":
            expected = (td + hp["per_eps"]) ** hp["per_alpha"]
        else:
            snapshot = np.asarray(write.args["state"].sorted_td, np.float64)
            rank = 1 + np.sum(snapshot[None, :] > td[:, None], axis=1)
            expected = rank ** -hp["per_alpha"]
        leaves = leaves_of(write.out, config.buffer_size)
        np.testing.assert_allclose(leaves[index], expected, rtol=1e-5)


def test_rank_priorities_are_resorted_every_rank_resort_interval(rank):
    config, alpha = rank.config, rank.hp["per_alpha"]
    resorts = rank.of("resort")
    interval = config.rank_resort_interval
    assert [t for t, _ in resorts] == list(range(interval, config.total_timesteps + 1, interval))
    for _, call in resorts:
        np.testing.assert_allclose(call.args["alpha"], alpha, rtol=1e-6)
        # the rebuilt tree ranks every stored |TD error|: rank^-alpha in descending order
        td = np.asarray(call.args["state"].td_abs, np.float64)
        stored = td >= 0
        leaves = leaves_of(call.out, config.buffer_size)
        order = np.argsort(-td[stored], kind="stable")
        np.testing.assert_allclose(
            np.sort(leaves[stored])[::-1], (1.0 + np.arange(order.size)) ** -alpha, rtol=1e-6
        )
        np.testing.assert_array_equal(leaves[~stored], 0.0)


# --- the network, the logged statistics and the evaluation ---------------------------------------


def test_network_is_built_from_the_config(run):
    config, result = run.config, run.result
    params = result.state.params.online
    sizes = (4, *config.hidden_sizes, 2)  # CartPole: 4 observations, 2 actions
    shapes = [layer.weight.shape for layer in params.layers]
    assert shapes == [(n_out, n_in) for n_in, n_out in itertools.pairwise(sizes)]
    assert (params.norms is not None) == config.layer_norm
    assert (params.value_head is not None) == (config.dueling is not None)
    obs = np.asarray(result.state.replay.storage.obs)
    q = jax.vmap(result.q_network)(obs)
    np.testing.assert_allclose(q, q_batch(params, obs, config), rtol=1e-5, atol=1e-5)


def test_logged_loss_q_and_grad_norm_average_the_interval_updates(run):
    config, metrics = run.config, run.result.metrics
    for i in range(config.num_logs):
        low, high = i * config.log_interval, (i + 1) * config.log_interval
        infos = [c.out[2] for t, c in run.updates if low < t <= high]
        for name in ("loss", "q_mean", "grad_norm"):
            logged = float(getattr(metrics, name)[i])
            if infos:
                expected = np.mean([float(getattr(info, name)) for info in infos])
                np.testing.assert_allclose(logged, expected, rtol=1e-5, err_msg=name)
            else:
                assert np.isnan(logged), name


def test_evaluation_plays_eval_episodes_greedy_episodes_of_the_online_net(run):
    config, metrics = run.config, run.result.metrics
    evaluations = run.of("run_episodes")
    if config.eval_episodes == 0:
        assert evaluations == []
        assert np.all(np.isnan(np.asarray(metrics.eval_return)))
        return
    expected_at = [config.log_interval * (i + 1) for i in range(config.num_logs)]
    assert [t for t, _ in evaluations] == expected_at
    differs = 0  # evaluations where the target network is not the online one
    for i, (t, call) in enumerate(evaluations):
        assert call.args["num_episodes"] == config.eval_episodes
        assert float(call.args["epsilon"]) == 0.0
        online = [c.out[0].online for u, c in run.updates if u <= t][-1]
        np.testing.assert_array_equal(flat(call.args["q_network"]), flat(online))
        later = [c.args["params"].target for u, c in run.updates if u > t]
        target = later[0] if later else run.result.state.params.target
        differs += not np.array_equal(flat(target), flat(online))
        returns = np.asarray(call.out)
        assert returns.shape == (config.eval_episodes,)
        np.testing.assert_allclose(metrics.eval_return[i], returns.mean(), rtol=1e-6)
    assert differs > 0


def test_stored_end_flags_mark_time_limits_as_truncated_and_nothing_else():
    """CartPole with a 10-step time limit: a stored transition is truncated exactly when it is
    the 10th step of its episode and the pole did not fall on it; never both ended flags."""
    env, env_params = gymnax.make("CartPole-v1")
    env_params = env_params.replace(max_steps_in_episode=10)
    config = DQNConfig(
        total_timesteps=400, num_envs=4, train_frequency=4, buffer_size=400, batch_size=32,
        learning_starts=200, log_interval=200, eval_episodes=0, hidden_sizes=(8,),
    )  # fmt: skip
    result = jax.jit(make_train(config, env, env_params))(key(0))
    storage = result.state.replay.storage
    rounds = config.total_timesteps // config.num_envs  # slot t * num_envs + e: round t, env e
    terminated = np.asarray(storage.terminated).reshape(rounds, config.num_envs)
    truncated = np.asarray(storage.truncated).reshape(rounds, config.num_envs)
    expected = np.zeros_like(truncated)
    for e in range(config.num_envs):
        length = 0
        for t in range(rounds):
            length += 1
            expected[t, e] = float(length == 10 and not terminated[t, e])
            if terminated[t, e] or length == 10:
                length = 0
    np.testing.assert_array_equal(truncated, expected)
    assert truncated.sum() > 0 and terminated.sum() > 0
    assert not np.any((truncated == 1) & (terminated == 1))


class HugeRewardCartPole(CartPole):
    """CartPole paying 1.5e38 a step: a 3-step return overflows float32 to inf, so the Huber
    loss is inf while its gradient, clipped at huber_delta, stays finite."""

    def step_env(self, key, state, action, params):
        obs, state, reward, done, info = super().step_env(key, state, action, params)
        return obs, state, reward * 1.5e38, done, info


def test_a_step_diverging_with_a_finite_gradient_logs_its_own_statistics_and_no_later_ones(
    monkeypatch,
):
    config = DQNConfig(
        total_timesteps=400, num_envs=4, train_frequency=4, buffer_size=400, batch_size=32,
        learning_starts=200, log_interval=400, eval_episodes=0, hidden_sizes=(8,), loss="huber",
    )  # fmt: skip
    env = HugeRewardCartPole()
    spy = LoopSpy(monkeypatch)
    spy.spy(LOOP, "td_update")
    result = jax.jit(make_train(config, env=env, env_params=env.default_params))(key(0))
    jax.block_until_ready(result)
    jax.effects_barrier()
    infos = [call.out[2] for call in spy.calls]
    assert len(infos) == config.num_updates > 1
    first = infos[0]  # the first gradient step diverges: inf loss, finite gradient
    assert np.isinf(float(first.loss)) and np.isfinite(float(first.grad_norm))
    metrics = result.metrics
    first_step = config.total_timesteps - (config.num_updates - 1) * config.train_frequency
    assert int(metrics.diverged_at[0]) == first_step  # the env step after the first update
    # the interval's means hold the diverging step alone; the 49 rejected ones add nothing
    np.testing.assert_allclose(float(metrics.grad_norm[0]), float(first.grad_norm), rtol=1e-6)
    np.testing.assert_allclose(float(metrics.q_mean[0]), float(first.q_mean), rtol=1e-6)
    assert np.isinf(float(metrics.loss[0]))
    # the diverged agent's later steps are not allowed, whatever their values
    allowed = [bool(call.args["allowed"]) for call in spy.calls]
    assert allowed == [True] + [False] * (config.num_updates - 1)
    # every step is rejected: each update starts from, and the run ends with, the initial online
    # parameters and optimiser state (Adam's count and moments included)
    start = spy.calls[0].args
    for call in spy.calls[1:]:
        assert_bitwise(call.args["params"].online, start["params"].online)
        assert_bitwise(call.args["opt_state"], start["opt_state"])
    assert_bitwise(result.state.params.online, start["params"].online)
    assert_bitwise(result.state.opt_state, start["opt_state"])


def test_a_step_rejected_with_finite_statistics_ends_learning_and_is_the_last_one_logged(
    monkeypatch,
):
    """The 11th update is refused (``allowed=False``, as for a non-finite step, but with finite
    statistics): learning stops there, and the interval's loss, mean Q and gradient norm are the
    means over the 11 steps up to it, with nothing from the 40 rejected after it."""
    config = DQNConfig(
        total_timesteps=400, num_envs=4, train_frequency=4, buffer_size=400, batch_size=32,
        learning_starts=200, log_interval=400, eval_episodes=0, hidden_sizes=(8,),
    )  # fmt: skip
    original = LOOP.td_update

    def refusing_the_11th(*args, allowed=True, **kwargs):
        count = adam_state(args[1]).count  # the steps taken so far
        return original(*args, allowed=jnp.logical_and(allowed, count != 10), **kwargs)

    monkeypatch.setattr(LOOP, "td_update", refusing_the_11th)
    spy = LoopSpy(monkeypatch)
    spy.spy(LOOP, "td_update")
    result = jax.jit(make_train(config))(key(0))
    jax.block_until_ready(result)
    jax.effects_barrier()
    infos = [call.out[2] for call in spy.calls]
    assert len(infos) == config.num_updates == 51
    assert [bool(i.applied) for i in infos] == [True] * 10 + [False] * 41
    first_step = config.total_timesteps - (config.num_updates - 1) * config.train_frequency
    assert int(result.metrics.diverged_at[0]) == first_step + 10 * config.train_frequency
    assert int(result.state.updates) == 10
    for field in ("loss", "q_mean", "grad_norm"):
        logged = float(getattr(result.metrics, field)[0])
        expected = np.mean([float(getattr(i, field)) for i in infos[:11]])
        np.testing.assert_allclose(logged, expected, rtol=1e-5, err_msg=field)


def test_rejected_steps_give_their_sampled_slots_the_priority_of_a_zero_td_error(monkeypatch):
    """Every step of the huge-reward run is rejected (the first diverges, the rest come after):
    the loop hands prioritized.update TD errors of 0, so each sampled slot gets eps**alpha."""
    config = DQNConfig(
        total_timesteps=400, num_envs=4, train_frequency=4, buffer_size=400, batch_size=32,
        learning_starts=200, log_interval=400, eval_episodes=0, hidden_sizes=(8,), loss="huber",
        prioritized="proportional",
    )  # fmt: skip
    env = HugeRewardCartPole()
    spy = LoopSpy(monkeypatch)
    spy.spy(LOOP.prioritized, "update")
    result = jax.jit(make_train(config, env=env, env_params=env.default_params))(key(0))
    jax.block_until_ready(result)
    jax.effects_barrier()
    assert len(spy.calls) == config.num_updates
    assert int(result.metrics.diverged_at[0]) >= 0
    for call in spy.calls:
        np.testing.assert_array_equal(call.args["td_error"], 0.0)
    last = spy.calls[-1]
    tree_leaves = np.asarray(sum_tree.leaves(last.out.tree))
    expected = np.float32(config.per_eps) ** np.float32(config.per_alpha)
    np.testing.assert_allclose(tree_leaves[last.args["index"]], expected, rtol=1e-6)
