"""The whole DQN run as one program: ``make_train(config)`` returns a pure ``train(key, hparams)``.

The run is a ``lax.scan`` over logging intervals; an interval is a scan over rounds; a round is
``train_frequency`` env steps (a scan over steps of ``num_envs`` vmapped envs, each adding its
transitions to the replay) followed by ``gradient_steps`` TD updates, then a target update.
Every gate is either a static scan length or a ``lax.cond`` on a round index that comes from the
scan's ``xs`` and so stays unbatched under ``jax.vmap`` (a batched predicate would turn ``cond``
into a ``select`` that runs both branches).

A gradient step whose loss, mean Q-value or gradient norm is not finite is rejected and ends the
agent's learning, as do parameters found non-finite at a logging point (``TrainState.diverged_at``;
see ``dqn_jax.loop.finite``). ``td_update`` skips the rejected step with a ``lax.cond`` on its own
values: the one gate that ``jax.vmap`` over agents turns into a select.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from dqn_jax.blocks import prioritized, replay
from dqn_jax.blocks.conv_network import ConvQNetwork
from dqn_jax.blocks.envs import EnvSpec, spec_from_env
from dqn_jax.blocks.exploration import boltzmann, epsilon_greedy, linear_schedule
from dqn_jax.blocks.networks import QNetwork, network_kind
from dqn_jax.blocks.prioritized import PriorityState
from dqn_jax.blocks.replay import ReplayState, Transition
from dqn_jax.blocks.schedules import per_beta
from dqn_jax.blocks.target_network import crossings, update_target
from dqn_jax.blocks.update import QParams, batch_from_sequence, make_optimizer, td_update
from dqn_jax.config import DQNConfig, HParams
from dqn_jax.loop.evaluation import run_episodes
from dqn_jax.loop.finite import NEVER, all_finite
from dqn_jax.loop.progress import report as report_progress


class LogAccumulator(NamedTuple):
    """Sums since the last logging point; reset after each."""

    return_sum: Float[Array, ""]  # returns of the episodes finished
    episodes: Int[Array, ""]  # episodes finished
    loss_sum: Float[Array, ""]
    q_sum: Float[Array, ""]
    grad_norm_sum: Float[Array, ""]
    updates: Int[Array, ""]  # gradient steps taken

    @classmethod
    def zeros(cls) -> LogAccumulator:
        f, i = jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)
        return cls(f, i, f, f, f, i)


class TrainState(NamedTuple):
    """Everything a run carries from one step to the next (a pytree of arrays)."""

    params: QParams  # online and target parameters
    opt_state: optax.OptState
    replay: ReplayState
    priorities: PriorityState | None  # prioritized replay only
    env_state: PyTree  # gymnax states of the num_envs environments
    obs: Float[Array, "num_envs ..."]  # current (preprocessed) observations, each obs_shape
    episode_return: Float[Array, " num_envs"]  # return so far of each env's running episode
    key: PRNGKeyArray
    env_steps: Int[Array, ""]  # transitions collected, summed over envs
    updates: Int[Array, ""]  # gradient steps taken
    diverged_at: Int[Array, ""]  # env step of the first non-finite update; -1 if none
    log: LogAccumulator


class Metrics(NamedTuple):
    """Statistics at each logging point (leaves stacked to shape ``(num_logs,)``)."""

    env_steps: Int[Array, "*logs"]
    episodes: Int[Array, "*logs"]  # episodes finished since the previous logging point
    episode_return: Float[Array, "*logs"]  # their mean return (NaN if none finished)
    loss: Float[Array, "*logs"]  # mean TD loss since the previous point (NaN before learning)
    q_mean: Float[Array, "*logs"]  # mean Q(s, a) of the sampled batches
    epsilon: Float[Array, "*logs"]  # exploration epsilon at this point (NaN for Boltzmann)
    temperature: Float[Array, "*logs"]  # Boltzmann temperature (NaN for epsilon-greedy)
    grad_norm: Float[Array, "*logs"]  # mean gradient norm, before clipping
    eval_return: Float[Array, "*logs"]  # greedy mean return over eval_episodes (NaN if 0)
    diverged_at: Int[Array, "*logs"]  # env step the agent diverged at so far (-1: not yet)


class TrainResult(NamedTuple):
    """What ``train`` returns."""

    q_network: QNetwork | ConvQNetwork  # the final online network, called on one observation
    metrics: Metrics
    state: TrainState


def _mean(total: Array, count: Array) -> Array:
    return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)


def new_network(config: DQNConfig, spec: EnvSpec, key: PRNGKeyArray) -> QNetwork | ConvQNetwork:
    """A freshly initialised Q-network of ``config`` for ``spec``'s observations and actions: a
    :class:`ConvQNetwork` where ``config.network`` resolves to ``"conv"`` (``network_kind``),
    else a :class:`QNetwork`.

    Raises:
        ValueError: naming ``network`` when ``"conv"`` is asked of observations that are not
            images.
    """
    head = (config.hidden_sizes, config.activation, config.layer_norm, config.dueling)
    if network_kind(config.network, spec.obs_shape) == "conv":
        return ConvQNetwork(
            spec.obs_shape,
            spec.num_actions,
            config.conv_channels,
            config.conv_kernel,
            *head,
            key=key,
        )
    return QNetwork(spec.obs_dim, spec.num_actions, *head, key=key)


def make_train(
    config: DQNConfig, env: Any = None, env_params: Any = None, *, progress: Any = None
) -> Callable[..., TrainResult]:
    """Builds the train function of ``config``.

    Args:
        config: the static configuration.
        env, env_params: a gymnax environment instance (and its params) to train on instead of
            ``config.env_name`` (wrapped for sticky actions when ``config.sticky_action_prob``
            is above 0).
        progress: ``None`` (nothing is compiled in), or a host-side
            ``progress(env_steps, recent_return)`` with an ``interval`` attribute in env steps
            (``dqn_jax.loop.progress.Progress``, e.g. a ``ProgressBar``): a ``jax.debug.callback``
            calls it every ``interval`` env steps (rounded down to whole rounds) and at the end;
            under ``jax.vmap`` once per report with every agent's values (``progress.report``).

    Returns:
        ``train(key, hparams=None) -> TrainResult``, a pure function to ``jax.jit`` and
        ``jax.vmap`` (over keys and over hparams). ``hparams=None`` means
        ``HParams.from_config(config)``. Its building blocks are attributes:
        ``train.init(key, hparams) -> TrainState`` and
        ``train.step(state, hparams, interval) -> (TrainState, Metrics)``, which runs logging
        interval number ``interval`` (an unbatched int); ``train`` is ``init`` followed by a scan
        of ``step`` over ``range(config.num_logs)``.
    """
    if not isinstance(config, DQNConfig):
        raise ValueError(f"config must be a DQNConfig, got {type(config).__name__}")
    spec = (
        config.env_spec
        if env is None
        else spec_from_env(env, env_params, sticky_action_prob=config.sticky_action_prob)
    )
    network_kind(config.network, spec.obs_shape)  # a conv for flat observations raises here
    num_envs = config.num_envs
    steps_per_round = config.train_frequency // num_envs
    rounds_per_log = config.log_interval // config.train_frequency

    def new_network_(key: PRNGKeyArray) -> QNetwork | ConvQNetwork:
        return new_network(config, spec, key)

    is_leaf = lambda x: eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)  # noqa: E731
    _, q_static = eqx.partition(eqx.filter_eval_shape(new_network_, jax.random.key(0)), is_leaf)

    def epsilon(hparams: HParams, env_steps: Array) -> Array:
        return linear_schedule(
            hparams.epsilon_start, hparams.epsilon_end, hparams.epsilon_decay_steps, env_steps
        )

    def temperature(hparams: HParams, env_steps: Array) -> Array:
        return linear_schedule(
            hparams.temperature_start,
            hparams.temperature_end,
            hparams.temperature_decay_steps,
            env_steps,
        )

    boltzmann_exploration = config.exploration == "boltzmann"
    per_kind = config.prioritized
    # Consecutive steps of one env sit num_envs slots apart in the buffer.
    sequence_span = (config.n_step - 1) * num_envs
    resort_rounds = config.rank_resort_interval // config.train_frequency

    def init(key: PRNGKeyArray, hparams: HParams) -> TrainState:
        net_key, env_key, key = jax.random.split(key, 3)
        online, _ = eqx.partition(new_network_(net_key), eqx.is_array)
        raw_obs, env_state = jax.vmap(spec.env.reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), spec.env_params
        )
        obs = jax.vmap(spec.preprocess)(raw_obs)
        stored = spec.encode(obs[0])  # the replay holds observations as spec.obs_storage
        example = Transition(
            obs=stored,
            action=jnp.zeros((), jnp.int32),
            reward=jnp.zeros((), jnp.float32),
            terminated=jnp.zeros((), jnp.float32),
            truncated=jnp.zeros((), jnp.float32),
            next_obs=stored,
        )
        return TrainState(
            params=QParams(online=online, target=online),
            opt_state=make_optimizer(config, hparams).init(online),
            replay=replay.init(example, config.buffer_size),
            priorities=None if per_kind is None else prioritized.init(config.buffer_size, per_kind),
            env_state=env_state,
            obs=obs,
            episode_return=jnp.zeros(num_envs, jnp.float32),
            key=key,
            env_steps=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            diverged_at=jnp.full((), NEVER, jnp.int32),
            log=LogAccumulator.zeros(),
        )

    def env_step(state: TrainState, hparams: HParams) -> TrainState:
        """One step of all envs with the epsilon-greedy policy; stores the transitions."""
        key, act_key, step_key = jax.random.split(state.key, 3)
        online = eqx.combine(state.params.online, q_static)
        q = jax.vmap(online)(state.obs)
        if boltzmann_exploration:
            policy, level = boltzmann, temperature(hparams, state.env_steps)
        else:
            policy, level = epsilon_greedy, epsilon(hparams, state.env_steps)
        action = jax.vmap(policy, in_axes=(0, 0, None))(
            jax.random.split(act_key, num_envs), q, level
        )
        raw_obs, env_state, reward, terminated, truncated, info = jax.vmap(
            spec.env.step, in_axes=(0, 0, 0, None)
        )(jax.random.split(step_key, num_envs), state.env_state, action, spec.env_params)
        reward = reward.astype(jnp.float32)
        # After an episode ends the env has reset: obs is the new episode's first observation,
        # and the true last one is info["final_observation"]. Truncation keeps bootstrapping.
        encode = jax.vmap(lambda raw: spec.encode(spec.preprocess(raw)))
        transition = Transition(
            obs=jax.vmap(spec.encode)(state.obs),
            action=action,
            reward=reward,
            terminated=terminated.astype(jnp.float32),
            truncated=(truncated & ~terminated).astype(jnp.float32),
            next_obs=encode(info["final_observation"]),
        )
        done = terminated | truncated
        episode_return = state.episode_return + reward
        log = state.log._replace(
            return_sum=state.log.return_sum + jnp.sum(jnp.where(done, episode_return, 0.0)),
            episodes=state.log.episodes + jnp.sum(done, dtype=jnp.int32),
        )
        priorities = state.priorities
        if per_kind is not None:
            cap = config.buffer_size
            written = (state.replay.position + jnp.arange(num_envs)) % cap
            priorities = prioritized.add(
                priorities,
                written,
                completed=(written - sequence_span) % cap,
                completed_valid=state.replay.size >= sequence_span,
                kind=per_kind,
            )
        return state._replace(
            replay=replay.add(state.replay, transition),
            priorities=priorities,
            env_state=env_state,
            obs=jax.vmap(spec.preprocess)(raw_obs),
            episode_return=jnp.where(done, 0.0, episode_return),
            key=key,
            env_steps=state.env_steps + num_envs,
            log=log,
        )

    def gradient_step(state: TrainState, hparams: HParams) -> TrainState:
        key, sample_key = jax.random.split(state.key)
        if per_kind is None:
            weight = None
            sequences = replay.sample_sequences(
                state.replay, sample_key, config.batch_size, config.n_step, stride=num_envs
            )
        else:
            beta = per_beta(config, hparams.per_beta, state.env_steps)
            start, weight = prioritized.sample(
                state.priorities,
                sample_key,
                config.batch_size,
                num_valid=state.replay.size - sequence_span,
                beta=beta,
            )
            sequences = replay.gather_sequences(state.replay, start, config.n_step, num_envs)
        batch = jax.vmap(batch_from_sequence, in_axes=(0, None))(sequences, hparams.gamma)
        decode = jax.vmap(spec.decode)  # stored observations -> what the network sees
        batch = batch._replace(obs=decode(batch.obs), next_obs=decode(batch.next_obs))
        # A non-finite update is rejected and ends learning: the agent keeps its last finite
        # parameters (``td_update`` skips the step).
        healthy = state.diverged_at == NEVER
        params, opt_state, info = td_update(
            state.params,
            state.opt_state,
            batch,
            hparams,
            weight,
            q_static=q_static,
            config=config,
            allowed=healthy,
        )
        accept = info.applied  # False once diverged; while healthy, False only if non-finite
        if per_kind is not None:
            state = state._replace(
                priorities=prioritized.update(
                    state.priorities,
                    start,
                    jnp.where(accept, info.td_error, 0.0),  # priorities stay finite
                    hparams.per_alpha,
                    hparams.per_eps,
                    per_kind,
                )
            )
        # The diverging step's own statistics are logged (its interval's loss reads NaN).
        log = state.log._replace(
            loss_sum=state.log.loss_sum + jnp.where(healthy, info.loss, 0.0),
            q_sum=state.log.q_sum + jnp.where(healthy, info.q_mean, 0.0),
            grad_norm_sum=state.log.grad_norm_sum + jnp.where(healthy, info.grad_norm, 0.0),
            updates=state.log.updates + healthy,
        )
        return state._replace(
            params=params,
            opt_state=opt_state,
            key=key,
            updates=state.updates + accept,
            diverged_at=jnp.where(healthy & ~accept, state.env_steps, state.diverged_at),
            log=log,
        )

    def round_(state: TrainState, hparams: HParams, round_index: Int[Array, ""]) -> TrainState:
        state = jax.lax.fori_loop(0, steps_per_round, lambda _, s: env_step(s, hparams), state)

        def learn(state: TrainState) -> TrainState:
            return jax.lax.fori_loop(
                0, config.gradient_steps, lambda _, s: gradient_step(s, hparams), state
            )

        # round_index comes from a scan's xs: unbatched under vmap, so this is a real branch.
        state = jax.lax.cond(round_index >= config.first_learning_round, learn, lambda s: s, state)
        if per_kind == "rank":

            def resort(state: TrainState) -> TrainState:
                return state._replace(
                    priorities=prioritized.resort(state.priorities, hparams.per_alpha, per_kind)
                )

            state = jax.lax.cond((round_index + 1) % resort_rounds == 0, resort, lambda s: s, state)
        period = hparams.target_update_period
        k = crossings(state.env_steps - config.train_frequency, state.env_steps, period)
        # Most rounds leave the target as it is (k = 0): a real branch skips the pass over the
        # parameters (about 6% of a MinAtar update, scripts/peers.py). Its predicate counts the
        # same crossings from the round index (env_steps = round_index * train_frequency at the
        # round's start), which stays unbatched under vmap where env_steps is batched.
        before = round_index * config.train_frequency
        due = crossings(before, before + config.train_frequency, period) > 0
        target = jax.lax.cond(
            due,
            lambda p: update_target(p.online, p.target, hparams.tau, k),
            lambda p: p.target,
            state.params,
        )
        return state._replace(params=state.params._replace(target=target))

    def round_and_report(
        state: TrainState, hparams: HParams, round_index: Int[Array, ""]
    ) -> TrainState:
        state = round_(state, hparams, round_index)
        if progress is not None:
            rounds_per_report = max(1, int(progress.interval) // config.train_frequency)

            def report(state: TrainState) -> None:
                recent_return = _mean(state.log.return_sum, state.log.episodes)
                report_progress(progress, state.env_steps, recent_return)

            # An unbatched round index keeps this a real branch under vmap, and the callback's
            # carried inputs keep it inside the loop (a loop-invariant one may be hoisted). The
            # last round always reports, so a bar reaches its end.
            done = round_index + 1
            due = (done % rounds_per_report == 0) | (done == config.num_rounds)
            jax.lax.cond(due, report, lambda _: None, state)
        return state

    def step(
        state: TrainState, hparams: HParams, interval: Int[Array, ""] | int
    ) -> tuple[TrainState, Metrics]:
        if not isinstance(interval, jax.core.Tracer) and not 0 <= int(interval) < config.num_logs:
            raise ValueError(
                f"interval={int(interval)} is outside the run's logging intervals "
                f"[0, {config.num_logs - 1}] (total_timesteps={config.total_timesteps}): its "
                "schedules end there. To train on, extend the run: dqn_jax.storage.runs.extend("
                "checkpoint, total_timesteps) or dqn-jax train --resume RUN --total-timesteps N"
            )
        rounds = interval * rounds_per_log + jnp.arange(rounds_per_log)
        state, _ = jax.lax.scan(lambda s, r: (round_and_report(s, hparams, r), None), state, rounds)
        if config.eval_episodes > 0:
            key, eval_key = jax.random.split(state.key)
            online = eqx.combine(state.params.online, q_static)
            eval_return = jnp.mean(run_episodes(online, spec, eval_key, config.eval_episodes))
            state = state._replace(key=key)
        else:
            eval_return = jnp.float32(jnp.nan)
        # Parameters that overflowed without a non-finite loss yet are caught here, once per
        # logging point.
        overflowed = (state.diverged_at == NEVER) & ~all_finite(state.params.online)
        state = state._replace(
            diverged_at=jnp.where(overflowed, state.env_steps, state.diverged_at)
        )
        log = state.log
        metrics = Metrics(
            env_steps=state.env_steps,
            episodes=log.episodes,
            episode_return=_mean(log.return_sum, log.episodes),
            loss=_mean(log.loss_sum, log.updates),
            q_mean=_mean(log.q_sum, log.updates),
            epsilon=jnp.float32(jnp.nan)
            if boltzmann_exploration
            else epsilon(hparams, state.env_steps),
            temperature=temperature(hparams, state.env_steps)
            if boltzmann_exploration
            else jnp.float32(jnp.nan),
            grad_norm=_mean(log.grad_norm_sum, log.updates),
            eval_return=eval_return,
            diverged_at=state.diverged_at,
        )
        return state._replace(log=LogAccumulator.zeros()), metrics

    def train(key: PRNGKeyArray, hparams: HParams | None = None) -> TrainResult:
        if hparams is None:
            hparams = HParams.from_config(config)
        state = init(key, hparams)
        state, metrics = jax.lax.scan(
            lambda s, i: step(s, hparams, i), state, jnp.arange(config.num_logs)
        )
        q_network = eqx.combine(state.params.online, q_static)
        return TrainResult(q_network=q_network, metrics=metrics, state=state)

    train.init = init
    train.step = step
    train.config = config
    train.env_spec = spec
    train.q_static = q_static  # eqx.combine(state.params.online, q_static) is the Q-network
    return train


def abstract_state(config: DQNConfig) -> TrainState:
    """The shapes and dtypes of one agent's :class:`TrainState` under ``config``: leaves are
    ``jax.ShapeDtypeStruct`` (typed keys included), from ``jax.eval_shape`` of ``train.init``, so
    nothing is computed. Checkpoints are checked against it, and ``bytes_per_agent`` sums it."""
    return jax.eval_shape(make_train(config).init, jax.random.key(0), HParams.from_config(config))
