"""Notebook 3: DQN from scratch in JAX/Equinox, trained on gymnax CartPole-v1 and compared with
``dqn_jax.make_train``."""

# ruff: noqa: E501 (cell sources are notebook text, wrapped for the notebook)

from _cells import check, code, exercise, md, uses

FILENAME = "03_dqn_from_scratch.ipynb"

INTRO = r"""
Deep Q-Networks (Mnih et al., 2015) are Q-learning with three additions that make a neural
network usable as the Q-function:

* an **experience replay** buffer, so updates use decorrelated, reused samples;
* a **target network**, a slowly moving copy of the parameters that the targets are computed
  from (notebook 2, section 4);
* minibatch **gradient descent** on the TD loss instead of a table update.

You will write every piece as a pure JAX function (a ring-buffer replay, epsilon-greedy, the TD
target, the loss and the update, the target sync), assemble them into one `lax.scan` that runs
a whole training run on **CartPole-v1** from `gymnax`, and compare the result with the
library's `dqn_jax.make_train`.
"""

CELLS = [
    md(
        "# 3 · DQN from scratch in JAX and Equinox",
        INTRO,
        r"""
        Exercises are marked *Exercise*; run the check cell after each. The training cells at
        the end need all of them.
        """,
        solution=(
            "# 3 · DQN from scratch in JAX and Equinox (solutions)",
            INTRO,
            r"""
            This is the solved notebook, executed at full length; the homework version is
            `notebooks/03_dqn_from_scratch.ipynb`.
            """,
        ),
    ),
    code(
        """
        import os

        # DQN_JAX_FAST=1 (used by the test suite) shortens the runs to check that every cell works;
        # the text describes the full-length runs you get without it.
        FAST = os.environ.get("DQN_JAX_FAST") == "1"

        import time
        from typing import Any, NamedTuple

        import equinox as eqx
        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np
        import optax

        import dqn_jax
        import dqn_jax.homework
        from dqn_jax import QParams, ReplayState, Transition, replay

        plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
        """
    ),
    md(
        r"""
        ## The environment: CartPole-v1 in gymnax

        A pole is hinged to a cart; the agent pushes the cart left or right (2 actions) and
        gets $+1$ for every step the pole stays up. The observation is 4 numbers. An episode
        **terminates** when the pole falls or the cart leaves the track, and is **truncated**
        after 500 steps, so the best return is 500.

        `gymnax` environments are pure functions, `env.step(key, state, action, params)`,
        so they can be `vmap`ped and `scan`ned like everything else. Two details matter for
        DQN:

        * `env.step` **resets automatically** at the end of an episode: the observation it
          returns is then the first one of the next episode, and the real last observation
          is in `info["final_observation"]`. That one is the $s'$ of the transition.
        * `terminated` and `truncated` are separate. Only termination ends the MDP; after a
          truncation the state still has a future, so the target must keep bootstrapping.
        """
    ),
    code(
        """
        spec = dqn_jax.make_env("CartPole-v1")
        env, env_params = spec.env, spec.env_params
        print(f"observation: {spec.obs_dim} numbers, actions: {spec.num_actions}, "
              f"time limit: {spec.max_steps_in_episode} steps")

        obs, state = env.reset(jax.random.key(0), env_params)
        next_obs, state, reward, terminated, truncated, info = env.step(jax.random.key(1), state, 0, env_params)
        print("obs:", obs, " reward:", reward, " terminated:", terminated, " truncated:", truncated)
        print("info keys:", sorted(info))
        """
    ),
    md(
        r"""
        ## The Q-network

        An Equinox module maps **one** observation to the Q-values of every action, shape
        `(num_actions,)`; batches are `jax.vmap`'s job. `eqx.partition(net, eqx.is_array)`
        splits it into its parameters (a pytree of arrays, what the optimizer updates) and
        its static rest (here the activation functions); `eqx.combine(params, static)` puts
        them back together. The target network is then just a second parameter pytree of the
        same structure.
        """
    ),
    code(
        """
        HIDDEN = 64


        def new_q_network(key):
            \"\"\"A 2-hidden-layer ReLU MLP: observation (obs_dim,) -> Q-values (num_actions,).\"\"\"
            return eqx.nn.MLP(spec.obs_dim, spec.num_actions, width_size=HIDDEN, depth=2, key=key)


        net = new_q_network(jax.random.key(0))
        params, static = eqx.partition(net, eqx.is_array)
        print("Q(obs) =", net(obs), " batched:", jax.vmap(net)(jnp.stack([obs, obs])).shape)
        print("parameter shapes:", [p.shape for p in jax.tree.leaves(params)])
        """
    ),
    md(
        r"""
        ## Experience replay as a ring buffer

        The buffer is a pytree of fixed-size arrays, so it can live inside `jit` and `scan`:

        ```python
        class Transition(NamedTuple):      # one step, or a batch with leading axes
            obs: Array          # (obs_dim,)
            action: Array       # ()  int32
            reward: Array       # ()
            terminated: Array   # ()  1.0 where the MDP ended
            truncated: Array    # ()  1.0 where a time limit cut the episode
            next_obs: Array     # (obs_dim,)

        class ReplayState(NamedTuple):
            storage: Transition  # every leaf has a leading axis of length `capacity`
            position: Array      # next slot to write, in [0, capacity)
            size: Array          # number of written slots, in [0, capacity]
        ```

        `replay.init(example, capacity)` builds an empty one (zeros, `position = size = 0`).
        New transitions are written at `position`, which wraps round, so when the buffer is
        full the **oldest** transitions are overwritten.

        **Exercise 1.** Write `replay_add` for a batch of `n` transitions (one per parallel
        environment). Neither size is an argument: both come from shapes, which are static
        (Python ints) even under `jit`. `capacity` is the length of the storage's leading
        axis, `jax.tree.leaves(state.storage)[0].shape[0]`, and `n` that of the transitions',
        `jax.tree.leaves(transitions)[0].shape[0]` (not `len(...)`: a `Transition` is a tuple
        of 6 fields). Index the slots `(position + jnp.arange(n)) % capacity` in every leaf at
        once with `jax.tree.map(lambda s, x: s.at[index].set(x), state.storage,
        transitions)`. Beware: JAX silently drops out-of-range writes instead of raising.
        """
    ),
    exercise(
        '''
        def replay_add(state, transitions):
            """Writes n transitions into the ring buffer.

            Args:
                state: a ReplayState; storage leaves have shape (capacity, ...).
                transitions: a Transition whose leaves have a leading axis n <= capacity.
                    capacity and n are the leading sizes of those leaves (static ints).

            Returns:
                The new ReplayState: slots (position + i) % capacity hold the transitions,
                position advanced by n modulo capacity, size = min(size + n, capacity).
            """
        ''',
        """
        capacity = jax.tree.leaves(state.storage)[0].shape[0]
        n = jax.tree.leaves(transitions)[0].shape[0]
        index = (state.position + jnp.arange(n)) % capacity
        storage = jax.tree.map(lambda s, x: s.at[index].set(x), state.storage, transitions)
        return ReplayState(
            storage=storage,
            position=(state.position + n) % capacity,
            size=jnp.minimum(state.size + n, capacity),
        )
        """,
        """
        compute the n slot indices (wrapping), write every leaf, advance position, cap size
        """,
    ),
    check("dqn_jax.homework.check_replay_add(replay_add)"),
    md(
        r"""
        **Exercise 2.** Write `replay_sample`: `batch_size` transitions drawn uniformly, with
        replacement, among the **written** slots `[0, size)`. (`jax.random.randint` accepts
        a traced upper bound; `batch_size` must be a Python int, since it fixes a shape.)
        """
    ),
    exercise(
        '''
        def replay_sample(state, key, batch_size):
            """A uniform minibatch from the buffer.

            Args:
                state: a ReplayState with size >= 1.
                key: a PRNG key.
                batch_size: number of transitions (a Python int).

            Returns:
                A Transition whose leaves have leading axis batch_size.
            """
        ''',
        """
        index = jax.random.randint(key, (batch_size,), 0, state.size)
        return jax.tree.map(lambda s: s[index], state.storage)
        """,
        """
        draw batch_size indices in [0, size) and gather them from every leaf
        """,
    ),
    check("dqn_jax.homework.check_replay_sample(replay_sample)"),
    md(
        r"""
        ## Acting: epsilon-greedy

        Same as in notebook 1, now on the Q-values the network computes for one observation.
        Epsilon decays linearly from 1 to 0.05 over the first part of training: the agent
        starts fully random, which also fills the buffer with diverse data.

        **Exercise 3.** Write `epsilon_greedy` (copy yours from notebook 1 if you did it).
        """
    ),
    exercise(
        '''
        def epsilon_greedy(key, q_values, epsilon):
            """An epsilon-greedy action: q_values (num_actions,) -> int32 scalar."""
        ''',
        """
        explore_key, action_key = jax.random.split(key)
        random_action = jax.random.randint(action_key, (), 0, q_values.shape[-1])
        greedy_action = jnp.argmax(q_values).astype(jnp.int32)
        return jnp.where(jax.random.uniform(explore_key) < epsilon, random_action, greedy_action)
        """,
        """
        with probability epsilon a uniform action over all actions, else argmax
        """,
    ),
    check("dqn_jax.homework.check_epsilon_greedy(epsilon_greedy)"),
    md(
        r"""
        ## The TD target and the loss

        For one transition $(s, a, r, s')$ DQN regresses $Q_\theta(s, a)$ towards

        $$y = r + \gamma\,(1 - \text{terminated})\,\max_{a'} Q_{\theta^-}(s', a'),$$

        where $\theta^-$ are the **target** parameters, and minimises over a minibatch $B$

        $$L(\theta) = \frac{1}{|B|}\sum_{i \in B} \tfrac12\,\bigl(y_i - Q_\theta(s_i, a_i)\bigr)^2,$$

        treating $y_i$ as a constant (`jax.lax.stop_gradient`): like semi-gradient TD, the
        gradient only moves the prediction.

        Following `rlax`, the target is written for **one** transition, with the discount
        $\gamma(1 - \text{terminated})$ passed in, and batched with `jax.vmap`.

        **Exercise 4.** Write `q_learning_target` for one transition.
        """
    ),
    exercise(
        '''
        def q_learning_target(r, discount, q_next):
            """The Q-learning target of one transition.

            Args:
                r: reward (scalar).
                discount: gamma * (1 - terminated) (scalar); 0 after a termination.
                q_next: target-network Q-values at the next observation, shape (num_actions,).

            Returns:
                y = r + discount * max_a q_next[a], a scalar.
            """
        ''',
        """
        return r + discount * jnp.max(q_next)
        """,
        """
        one line: r plus discount times the best next value
        """,
    ),
    check("dqn_jax.homework.check_q_learning_target(q_learning_target)"),
    md(
        r"""
        **Exercise 5.** Write `td_loss`. Rebuild the two networks with `eqx.combine`, run them
        on the batch with `jax.vmap`, pick $Q_\theta(s_i, a_i)$ of the action taken
        (`jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]`), compute the targets
        with `jax.vmap(q_learning_target)`, and return the mean of $\tfrac12\delta^2$.
        """
    ),
    exercise(
        '''
        def td_loss(online_params, target_params, static, batch, gamma):
            """The DQN loss of a minibatch.

            Args:
                online_params, target_params: parameter pytrees of the Q-network.
                static: its static part (from eqx.partition).
                batch: a Transition with leading axis batch_size.
                gamma: the discount.

            Returns:
                The scalar loss mean(0.5 * (y - Q_online(s, a))**2), with y a constant.
            """
        ''',
        """
        online = eqx.combine(online_params, static)
        target = eqx.combine(target_params, static)
        q = jax.vmap(online)(batch.obs)  # (batch, num_actions)
        q_taken = jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]
        q_next = jax.vmap(target)(batch.next_obs)
        discount = gamma * (1.0 - batch.terminated)
        y = jax.lax.stop_gradient(jax.vmap(q_learning_target)(batch.reward, discount, q_next))
        return jnp.mean(0.5 * (y - q_taken) ** 2)
        """,
        """
        Q of the actions taken (online net), targets from the target net (masked by
        terminated, stop_gradient), mean of 0.5 * delta**2
        """,
    ),
    check("dqn_jax.homework.check_td_loss(td_loss)"),
    md(
        r"""
        ## One gradient step

        `jax.value_and_grad(td_loss)` differentiates with respect to its first argument, the
        online parameters only. An optax optimizer turns the gradient into an update:
        `updates, opt_state = optimizer.update(grads, opt_state, params)`, then
        `optax.apply_updates(params, updates)` (optax already includes the minus sign).

        **Exercise 6.** Write `td_update`.
        """
    ),
    exercise(
        '''
        def td_update(params, opt_state, batch, gamma, *, static, optimizer):
            """One optimizer step on the TD loss.

            Args:
                params: QParams(online, target), two parameter pytrees.
                opt_state: the optimizer state of the online parameters.
                batch: a Transition with leading axis batch_size.
                gamma: the discount.
                static: the network's static part; optimizer: an optax GradientTransformation.

            Returns:
                (QParams with the online parameters updated and the target unchanged,
                 the new opt_state, the loss before the step).
            """
        ''',
        """
        loss, grads = jax.value_and_grad(td_loss)(params.online, params.target, static, batch, gamma)
        updates, opt_state = optimizer.update(grads, opt_state, params.online)
        online = optax.apply_updates(params.online, updates)
        return QParams(online, params.target), opt_state, loss
        """,
        """
        value_and_grad of td_loss w.r.t. the online params, optimizer.update, apply_updates
        """,
    ),
    check("dqn_jax.homework.check_td_update(td_update)"),
    md(
        r"""
        ## The target network

        The original DQN copies the online parameters into the target every $C$ steps (a
        *hard* update). A smooth alternative is a **Polyak** average after every update:

        $$\theta^- \leftarrow \tau\,\theta + (1 - \tau)\,\theta^-,$$

        which is a hard copy for $\tau = 1$. Both keep the target frozen *enough* that each
        regression has a fixed goal for a while (notebook 2).

        **Exercise 7.** Write `sync_target` with `jax.tree.map` over the two pytrees.
        """
    ),
    exercise(
        '''
        def sync_target(online, target, tau):
            """Polyak update of every leaf: tau * online + (1 - tau) * target (tau=1: copy).

            Args:
                online, target: parameter pytrees of the same structure.
                tau: step size in (0, 1].

            Returns:
                The new target pytree.
            """
        ''',
        """
        return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)
        """,
        """
        jax.tree.map over (online, target)
        """,
    ),
    check("dqn_jax.homework.check_sync_target(sync_target)"),
    md(
        r"""
        ## The whole run as one `lax.scan`

        Now the pieces become an agent. One **iteration** steps `NUM_ENVS` environments
        side by side (`jax.vmap` over `env.step`), stores their transitions, then takes
        `GRADIENT_STEPS` TD updates and, every `TARGET_SYNC_EVERY` iterations, a target
        update with `sync_target` (here every iteration with `TAU = 0.05`, a Polyak average;
        `TAU = 1.0` makes it a hard copy). `lax.scan` runs the iterations of one logging
        interval; an outer `lax.scan` runs the intervals and stacks what each one logs. The
        carry is a `NamedTuple` of arrays holding everything that changes: parameters,
        optimizer state, replay, environment states, the PRNG key.

        Two details:

        * **Learning starts** after `LEARNING_STARTS` steps of random-ish data. The gate is a
          `lax.cond` on the iteration index, which comes from the scan's `xs`. That index is
          the same for every seed, so under `jax.vmap` over seeds the `cond` stays a real
          branch (a predicate that differed per seed would make `vmap` run both branches).
        * **The keys**: every random choice (network init, resets, exploration, sampling)
          splits from the one key passed to `train`, so two keys are two independent runs.
        """
    ),
    code(
        """
        TOTAL_STEPS = 4_000 if FAST else 50_000  # env steps, summed over the parallel envs
        NUM_ENVS = 4
        BUFFER_SIZE = TOTAL_STEPS
        BATCH_SIZE = 32 if FAST else 128
        LEARNING_STARTS = 500 if FAST else 1_000
        GRADIENT_STEPS = 2  # per iteration, i.e. per NUM_ENVS env steps
        GAMMA, LR, MAX_GRAD_NORM = 0.99, 1e-3, 10.0
        # Every TARGET_SYNC_EVERY iterations: target <- TAU * online + (1 - TAU) * target (TAU = 1: a copy).
        TAU, TARGET_SYNC_EVERY = 0.05, 1
        EPSILON_START, EPSILON_END, EPSILON_DECAY = 1.0, 0.05, 2_000 if FAST else 10_000
        LOG_EVERY = 1_000 if FAST else 2_500
        NUM_SEEDS = 2 if FAST else 4
        keys = jax.random.split(jax.random.key(0), NUM_SEEDS)  # one PRNG key per seed

        NUM_ITERS = TOTAL_STEPS // NUM_ENVS
        ITERS_PER_LOG = LOG_EVERY // NUM_ENVS
        NUM_LOGS = TOTAL_STEPS // LOG_EVERY
        FIRST_LEARNING_ITER = LEARNING_STARTS // NUM_ENVS
        NUM_UPDATES = (NUM_ITERS - FIRST_LEARNING_ITER) * GRADIENT_STEPS

        # Adam with gradient clipping; the learning rate decays linearly to 0 over the run.
        optimizer = optax.chain(
            optax.clip_by_global_norm(MAX_GRAD_NORM),
            optax.adam(optax.linear_schedule(LR, 0.0, NUM_UPDATES)),
        )


        class AgentState(NamedTuple):
            params: QParams  # online and target parameters
            opt_state: Any
            replay: ReplayState
            env_state: Any  # NUM_ENVS gymnax states
            obs: jax.Array  # (NUM_ENVS, obs_dim)
            episode_return: jax.Array  # (NUM_ENVS,) return so far of each running episode
            key: jax.Array


        def init(key):
            net_key, env_key, key = jax.random.split(key, 3)
            online, _ = eqx.partition(new_q_network(net_key), eqx.is_array)
            obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(env_key, NUM_ENVS), env_params)
            example = Transition(obs[0], jnp.int32(0), jnp.float32(0), jnp.float32(0), jnp.float32(0), obs[0])
            return AgentState(
                params=QParams(online, online),
                opt_state=optimizer.init(online),
                replay=replay.init(example, BUFFER_SIZE),
                env_state=env_state,
                obs=obs,
                episode_return=jnp.zeros(NUM_ENVS),
                key=key,
            )


        def act_and_store(state, epsilon):
            \"\"\"One step of every env with the epsilon-greedy policy; stores the transitions.\"\"\"
            key, act_key, step_key = jax.random.split(state.key, 3)
            q = jax.vmap(eqx.combine(state.params.online, static))(state.obs)
            action = jax.vmap(epsilon_greedy, in_axes=(0, 0, None))(jax.random.split(act_key, NUM_ENVS), q, epsilon)
            next_obs, env_state, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, NUM_ENVS), state.env_state, action, env_params
            )
            transition = Transition(
                obs=state.obs,
                action=action,
                reward=reward.astype(jnp.float32),
                terminated=terminated.astype(jnp.float32),
                truncated=(truncated & ~terminated).astype(jnp.float32),
                next_obs=info["final_observation"],  # not next_obs: that is already the reset one
            )
            done = terminated | truncated
            episode_return = state.episode_return + reward
            finished = (jnp.sum(jnp.where(done, episode_return, 0.0)), jnp.sum(done))
            state = state._replace(
                replay=replay_add(state.replay, transition),
                env_state=env_state,
                obs=next_obs,
                episode_return=jnp.where(done, 0.0, episode_return),
                key=key,
            )
            return state, finished


        def learn(state, i):
            \"\"\"GRADIENT_STEPS TD updates on fresh minibatches, then the target update if it is due.\"\"\"

            def one_update(state, _):
                key, sample_key = jax.random.split(state.key)
                batch = replay_sample(state.replay, sample_key, BATCH_SIZE)
                params, opt_state, loss = td_update(
                    state.params, state.opt_state, batch, GAMMA, static=static, optimizer=optimizer
                )
                return state._replace(params=params, opt_state=opt_state, key=key), loss

            state, losses = jax.lax.scan(one_update, state, None, length=GRADIENT_STEPS)
            synced = sync_target(state.params.online, state.params.target, TAU)
            due = (i + 1) % TARGET_SYNC_EVERY == 0
            target = jax.tree.map(lambda new, old: jnp.where(due, new, old), synced, state.params.target)
            return state._replace(params=state.params._replace(target=target)), jnp.mean(losses)


        def iteration(state, i):
            fraction = jnp.minimum(i * NUM_ENVS / EPSILON_DECAY, 1.0)
            epsilon = EPSILON_START + fraction * (EPSILON_END - EPSILON_START)
            state, (return_sum, episodes) = act_and_store(state, epsilon)
            no_learning = lambda s: (s, jnp.float32(jnp.nan))  # noqa: E731
            state, loss = jax.lax.cond(i >= FIRST_LEARNING_ITER, lambda s: learn(s, i), no_learning, state)
            return state, (return_sum, episodes, loss)


        def train(key):
            \"\"\"A whole DQN run. Returns the final online parameters and, per logging interval,
            the mean return of the episodes finished in it and the mean TD loss.\"\"\"

            def interval(state, index):
                iterations = index * ITERS_PER_LOG + jnp.arange(ITERS_PER_LOG)
                state, (return_sum, episodes, loss) = jax.lax.scan(iteration, state, iterations)
                mean_return = jnp.sum(return_sum) / jnp.maximum(jnp.sum(episodes), 1)
                return state, (mean_return, jnp.nanmean(loss))

            state, logs = jax.lax.scan(interval, init(key), jnp.arange(NUM_LOGS))
            return state.params.online, logs
        """
    ),
    md(
        r"""
        Training `NUM_SEEDS` agents is one `jax.jit(jax.vmap(train))` call: the seeds run as
        one XLA program. The first call includes the compilation.
        """
    ),
    uses(
        """
        start = time.perf_counter()
        scratch_params, (scratch_returns, scratch_loss) = jax.block_until_ready(jax.jit(jax.vmap(train))(keys))
        print(f"{NUM_SEEDS} seeds x {TOTAL_STEPS:,} env steps in {time.perf_counter() - start:.1f} s (compile included)")
        """
    ),
    md(
        r"""
        ## The same agent from the library

        `dqn_jax.make_train` builds the same algorithm from a validated `DQNConfig`. We set
        it to the choices made above: plain (not Double) one-step DQN, no LayerNorm, $\gamma = 0.99$,
        the same sizes, schedule and optimizer. (Its defaults, tuned for CartPole, differ: see
        `DQNConfig`'s documentation.) `eval_episodes=0` turns off its in-training greedy
        evaluation, since our version has none.
        """
    ),
    code(
        """
        config = dqn_jax.DQNConfig(
            env_name="CartPole-v1",
            total_timesteps=TOTAL_STEPS,
            num_envs=NUM_ENVS,
            buffer_size=BUFFER_SIZE,
            batch_size=BATCH_SIZE,
            learning_starts=LEARNING_STARTS,
            train_frequency=NUM_ENVS,
            gradient_steps=GRADIENT_STEPS,
            target_update_period=NUM_ENVS * TARGET_SYNC_EVERY,
            tau=TAU,
            learning_rate=LR,
            lr_decay=True,
            max_grad_norm=MAX_GRAD_NORM,
            gamma=GAMMA,
            double=False,
            n_step=1,
            layer_norm=False,
            hidden_sizes=(HIDDEN, HIDDEN),
            epsilon_start=EPSILON_START,
            epsilon_end=EPSILON_END,
            epsilon_decay_steps=EPSILON_DECAY,
            log_interval=LOG_EVERY,
            eval_episodes=0,
        )
        start = time.perf_counter()
        library = jax.block_until_ready(jax.jit(jax.vmap(dqn_jax.make_train(config)))(keys))
        print(f"{NUM_SEEDS} seeds x {TOTAL_STEPS:,} env steps in {time.perf_counter() - start:.1f} s (compile included)")
        """
    ),
    md(
        r"""
        Both are scored the same way: the training-episode returns logged along the way, and
        at the end the **greedy** policy of each seed's final network over 100 fresh episodes
        (`dqn_jax.evaluate`, which runs them in parallel as one scan).
        """
    ),
    uses(
        """
        NUM_EVAL = 20 if FAST else 100
        eval_keys = jax.random.split(jax.random.key(1), NUM_SEEDS)


        def greedy_score(net, key):
            return dqn_jax.evaluate(net, config, key, NUM_EVAL).mean()


        scratch_scores = [greedy_score(eqx.combine(jax.tree.map(lambda x, i=i: x[i], scratch_params), static), eval_keys[i])
                          for i in range(NUM_SEEDS)]
        library_scores = [greedy_score(jax.tree.map(lambda x, i=i: x[i], library.q_network), eval_keys[i])
                          for i in range(NUM_SEEDS)]

        steps = LOG_EVERY * np.arange(1, NUM_LOGS + 1)
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), gridspec_kw={"width_ratios": [2, 2, 1]})
        for name, returns, color in [("from scratch", scratch_returns, "C0"),
                                     ("dqn_jax.make_train", library.metrics.episode_return, "C1")]:
            returns = np.asarray(returns)
            axes[0].plot(steps, returns.T, color=color, alpha=0.25, lw=1)
            axes[0].plot(steps, returns.mean(0), color=color, lw=2, label=f"{name} (mean of {NUM_SEEDS})")
        axes[0].set(xlabel="env steps", ylabel="training episode return", title="learning curves (thin: single seeds)")
        axes[0].legend(fontsize=8)
        axes[1].semilogy(steps, np.asarray(scratch_loss).mean(0), label="from scratch")
        axes[1].semilogy(steps, np.asarray(library.metrics.loss).mean(0), label="dqn_jax.make_train")
        axes[1].set(xlabel="env steps", ylabel="mean TD loss", title="TD loss")
        axes[1].legend(fontsize=8)
        for x, scores in enumerate([scratch_scores, library_scores]):
            axes[2].scatter(np.full(NUM_SEEDS, x), scores, color=f"C{x}")
        axes[2].set(xticks=[0, 1], xticklabels=["scratch", "library"], xlim=(-0.5, 1.5), ylim=(0, 520),
                    ylabel=f"greedy return ({NUM_EVAL} episodes)", title="final networks")
        axes[2].axhline(500, color="k", ls="--", lw=1)
        plt.tight_layout()
        plt.show()
        print("final greedy returns, from scratch:", np.round(scratch_scores, 1))
        print("final greedy returns, library:     ", np.round(library_scores, 1))
        """
    ),
    md(
        r"""
        The two implementations are the same algorithm, so their curves should agree up to
        seed-to-seed variation, and that variation is large: the thin lines spread widely, and
        the greedy score of a final network can land anywhere between about 150 and 500
        depending on the seed alone. A handful of seeds is not enough to tell two
        implementations or configurations apart (notebook 5 measures this properly). The TD
        loss does not fall the way a supervised loss does: the targets move as the values
        grow, and a rising loss is normal while the agent is learning. (With `DQN_JAX_FAST=1`
        the runs stop after 4,000 env steps, too early to balance the pole: the scores then
        stay low, and this paragraph describes the full-length runs of 50,000 steps.)

        Things to try:

        * Set `TAU = 1.0` and `TARGET_SYNC_EVERY = 250` (a hard copy every 1,000 env steps, as
          in the original DQN), or bootstrap from the online network. What happens to the
          loss and the return?
        * Make the buffer tiny (`BUFFER_SIZE = 1_000`): the samples become correlated and the
          agent forgets what it learned earlier in the run.
        * The library's defaults add Double DQN, 3-step returns, LayerNorm and $\gamma = 0.995$:
          `dqn_jax.make_train(dqn_jax.DQNConfig())`. Notebook 4 looks at Double DQN and other
          extensions.
        """
    ),
]
