"""Notebook 4: beyond DQN: Double DQN's overestimation measured, the dueling head and
prioritized replay, each written from scratch."""

# ruff: noqa: E501 (cell sources are notebook text, wrapped for the notebook)

from _cells import check, code, exercise, md, uses

FILENAME = "04_beyond_dqn.ipynb"

INTRO = r"""
Three of the best-known improvements to DQN, each a small change with a clear reason:

1. **Double DQN** (van Hasselt et al., 2016): the max in the target overestimates values when
   they are noisy. We measure the bias on a problem where it is large, and remove it.
2. **Dueling networks** (Wang et al., 2016): split $Q(s, a)$ into a state value and action
   advantages, so that every sample teaches the value of the state.
3. **Prioritized replay** (Schaul et al., 2016): replay the transitions with large TD errors
   more often, and correct the bias that this introduces.
"""

CELLS = [
    md(
        "# 4 · Beyond DQN: Double, Dueling, Prioritized",
        INTRO,
        r"""
        Exercises are marked *Exercise*; run the check cell after each.
        """,
        solution=(
            "# 4 · Beyond DQN: Double, Dueling, Prioritized (solutions)",
            INTRO,
            r"""
            This is the solved notebook, executed at full length; the homework version is
            `notebooks/04_beyond_dqn.ipynb`.
            """,
        ),
    ),
    code(
        """
        import os

        # DQN_JAX_FAST=1 (used by the test suite) shortens the runs to check that every cell works;
        # the text describes the full-length runs you get without it.
        FAST = os.environ.get("DQN_JAX_FAST") == "1"

        import equinox as eqx
        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np
        import optax

        import dqn_jax
        import dqn_jax.homework

        plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
        """
    ),
    md(
        r"""
        ## 1. Overestimation and Double DQN

        The DQN target uses $\max_{a'} Q(s', a')$. If the estimates are noisy, the max picks
        whichever action happens to be overestimated the most, so even when every estimate is
        unbiased, their maximum is not:

        $$\mathbb{E}\bigl[\max_a \hat Q(s', a)\bigr] \;\ge\; \max_a \mathbb{E}\bigl[\hat Q(s', a)\bigr].$$

        Bootstrapping then feeds this upward bias into the values of earlier states. The
        problem is that one set of noisy numbers both *selects* the action and *evaluates*
        it. Double Q-learning decouples the two. Double DQN uses the two networks DQN already
        has: the online network selects, the target network evaluates,

        $$a^* = \arg\max_{a'} Q_\theta(s', a'), \qquad y = r + \gamma\,(1 - \text{terminated})\,Q_{\theta^-}(s', a^*).$$

        The target network's errors are not those of the online network (it lags behind it),
        so picking the online network's favourite no longer systematically picks an
        overestimated target value.

        **Exercise 1.** Write `double_q_target` for one transition.
        """
    ),
    exercise(
        '''
        def double_q_target(r, discount, q_next_target, q_next_online):
            """The Double DQN target of one transition.

            Args:
                r: reward (scalar).
                discount: gamma * (1 - terminated) (scalar).
                q_next_target: target-network Q-values at the next observation, (num_actions,).
                q_next_online: online-network Q-values at the next observation, (num_actions,).

            Returns:
                y = r + discount * q_next_target[argmax_a q_next_online[a]], a scalar.
            """
        ''',
        """
        return r + discount * q_next_target[jnp.argmax(q_next_online)]
        """,
        """
        select with the online values, evaluate with the target values
        """,
    ),
    check("dqn_jax.homework.check_double_q_target(double_q_target)"),
    md(
        r"""
        ### Measuring the bias

        A two-state problem where the truth is known exactly. From $s_0$ the only action
        leads to $s_1$ with reward 0. In $s_1$ there are $K$ actions; each ends the episode
        with a reward drawn from $\mathcal N(0, 1)$. Every action is worth exactly 0, so
        $Q^*(s_0) = 0$: whatever a learner estimates for $s_0$ is its bias.

        The learner is DQN with a table instead of a network (so the only difference between
        the runs is the target): each update draws a minibatch of fresh transitions, moves
        each $Q(s_1, a)$ towards the mean reward of its samples and $Q(s_0)$ towards the
        target computed from $s_1$; a target table is hard-synced every 50 updates. We train
        $K = 1, 2, 4, \dots, 64$ with both targets and many seeds, all in one `vmap`ped
        program (smaller $K$ are padded to 64 actions and the extra ones masked out).
        """
    ),
    uses(
        """
        MAX_ACTIONS, SYNC_EVERY, ALPHA, NOISE_GAMMA, NOISE_BATCH = 64, 50, 0.2, 0.99, 64
        NOISE_STEPS = 300 if FAST else 3_000
        NOISE_SEEDS = 4 if FAST else 32
        ACTION_COUNTS = [1, 2, 4, 8, 16, 32, 64]


        def noisy_run(key, num_actions, double):
            \"\"\"Tabular DQN on the noisy-actions problem; returns Q(s0) after every update.\"\"\"
            valid = jnp.arange(MAX_ACTIONS) < num_actions

            def update(carry, i):
                q, q_target, key = carry
                key, action_key, reward_key = jax.random.split(key, 3)
                actions = jax.random.randint(action_key, (NOISE_BATCH,), 0, num_actions)
                rewards = jax.random.normal(reward_key, (NOISE_BATCH,))
                # s1 (terminal): each sampled action's value moves towards its mean reward.
                count = jnp.zeros(MAX_ACTIONS).at[actions].add(1.0)
                error = jnp.zeros(MAX_ACTIONS).at[actions].add(rewards - q[1, actions])
                q1 = q[1] + ALPHA * error / jnp.maximum(count, 1.0)
                # s0: bootstrap from s1 with the plain or the Double target.
                online_next = jnp.where(valid, q[1], -1e9)
                target_next = jnp.where(valid, q_target[1], -1e9)
                y = jnp.where(
                    double,
                    double_q_target(0.0, NOISE_GAMMA, target_next, online_next),
                    NOISE_GAMMA * jnp.max(target_next),
                )
                q = q.at[1].set(q1).at[0, 0].add(ALPHA * (y - q[0, 0]))
                q_target = jnp.where((i + 1) % SYNC_EVERY == 0, q, q_target)
                return (q, q_target, key), q[0, 0]

            q0 = jnp.zeros((2, MAX_ACTIONS))
            _, trace = jax.lax.scan(update, (q0, q0, key), jnp.arange(NOISE_STEPS))
            return trace


        run_all = jax.jit(
            jax.vmap(  # over K
                jax.vmap(  # over {plain, double}
                    jax.vmap(noisy_run, in_axes=(0, None, None)),  # over seeds
                    in_axes=(None, None, 0),
                ),
                in_axes=(None, 0, None),
            )
        )
        keys = jax.random.split(jax.random.key(0), NOISE_SEEDS)
        traces = np.asarray(run_all(keys, jnp.array(ACTION_COUNTS), jnp.array([False, True])))
        # traces: (K values, 2 targets, seeds, updates)
        bias = traces[..., NOISE_STEPS // 2:].mean(axis=(-1, -2))  # second half of training

        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        k = ACTION_COUNTS.index(32)
        for j, (name, color) in enumerate([("DQN target", "C3"), ("Double DQN target", "C0")]):
            axes[0].plot(traces[k, j].mean(0), color=color, label=name)
            axes[1].plot(ACTION_COUNTS, bias[:, j], "o-", color=color, label=name)
        axes[0].axhline(0, color="k", ls="--", lw=1, label="true value")
        axes[0].set(xlabel="updates", ylabel=r"$Q(s_0)$ estimate", title="K = 32 actions (mean of seeds)")
        axes[1].axhline(0, color="k", ls="--", lw=1)
        axes[1].set(xscale="log", xlabel="number of actions K", ylabel="bias of $Q(s_0)$",
                    title="estimate minus true value")
        axes[1].set_xticks(ACTION_COUNTS, [str(k) for k in ACTION_COUNTS])
        for ax in axes:
            ax.legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        for count, (plain, double) in zip(ACTION_COUNTS, bias, strict=True):
            print(f"K={count:2d}: DQN bias {plain:+.3f}, Double DQN bias {double:+.3f}")
        """
    ),
    md(
        r"""
        With one action there is nothing to choose and no bias. With more actions the plain
        target's bias grows steadily, since the max of more noisy numbers is larger, while
        the Double target stays much closer to 0. It is not exactly unbiased, and the left
        panel shows why: right after each sync the two tables are identical, so the online
        table selects with the very noise the target table evaluates with, and the bias
        spikes; it decays as the online table's noise is renewed. A longer sync period (try
        `SYNC_EVERY = 200`) decorrelates them further, at the price of slower propagation.

        In the library, `DQNConfig(double=True)` (the default) computes its targets with
        `dqn_jax.double_q_learning_target`, the same rule as your `double_q_target`.

        ## 2. Dueling networks

        In many states the choice of action barely matters, yet a plain Q-network must learn
        the value of every action separately, and an update for $(s, a)$ only trains the
        output for $a$. A **dueling** head splits the last layer into a state value $V(s)$
        and advantages $A(s, a)$, and recombines them:

        $$Q(s, a) = V(s) + \Bigl(A(s, a) - \frac{1}{|\mathcal A|}\sum_{a'} A(s, a')\Bigr).$$

        Every update then also trains $V(s)$, which is shared by all actions. Subtracting the
        mean makes the split **identifiable**: without it, $V + c$ and $A - c$ give the same
        $Q$ for any constant $c$, and the network could drift along that direction. (Using the
        max instead of the mean makes $V$ the value of the best action; the mean is more
        stable and is what Wang et al. recommend.)

        **Exercise 2.** Write `dueling_aggregate` for a batch. Reduce over the **actions**
        axis and keep it for broadcasting: `jnp.mean(advantages, axis=-1, keepdims=True)`.
        """
    ),
    exercise(
        '''
        def dueling_aggregate(value, advantages):
            """Combines a value and advantages into Q-values (mean baseline).

            Args:
                value: V(s) for a batch, shape (batch,).
                advantages: A(s, a), shape (batch, num_actions).

            Returns:
                Q of shape (batch, num_actions): V + A - mean over actions of A.
            """
        ''',
        """
        return value[:, None] + advantages - jnp.mean(advantages, axis=-1, keepdims=True)
        """,
        """
        broadcast value over the actions; subtract each row's mean advantage
        """,
    ),
    check("dqn_jax.homework.check_dueling_aggregate(dueling_aggregate)"),
    md(
        r"""
        ### Why it helps: one update teaches every action

        A supervised experiment isolates the effect. States $s \in [0, 1]$, 20 actions, true
        values $Q(s, a) = V(s) + A(a)$ where $V(s) = 5 \sin(2\pi s)$ varies a lot and the
        advantages $A(a)$ are small (within $\pm 0.25$). As in TD learning, each training
        sample is one $(s, a, \text{target})$ and trains only the output of the action taken.
        Two MLPs with the same torso, one with a plain head and one with a dueling head built
        from your `dueling_aggregate`, are trained on the same samples; we track the error
        over **all** actions.
        """
    ),
    uses(
        """
        NUM_ACTIONS_D = 20
        ADV_TRUE = 0.25 * jnp.sin(jnp.arange(NUM_ACTIONS_D) * 1.7)
        ADV_TRUE = ADV_TRUE - ADV_TRUE.mean()


        def true_q(s):
            return 5.0 * jnp.sin(2 * jnp.pi * s)[:, None] + ADV_TRUE


        class QHead(eqx.Module):
            \"\"\"An MLP on one scalar state with a plain or a dueling head: s -> (num_actions,).\"\"\"

            torso: eqx.nn.MLP
            advantage: eqx.nn.Linear
            value: eqx.nn.Linear | None

            def __init__(self, dueling, key):
                k1, k2, k3 = jax.random.split(key, 3)
                self.torso = eqx.nn.MLP(1, 64, 64, 1, activation=jax.nn.tanh, final_activation=jax.nn.tanh, key=k1)
                self.advantage = eqx.nn.Linear(64, NUM_ACTIONS_D, key=k2)
                self.value = eqx.nn.Linear(64, 1, key=k3) if dueling else None

            def __call__(self, s):
                h = self.torso(s[None])
                if self.value is None:
                    return self.advantage(h)
                return dueling_aggregate(self.value(h), self.advantage(h)[None])[0]


        DUEL_STEPS = 1_500  # fast mode too: both heads reach the 0.2 line after 600-950 steps
        s_eval = jnp.linspace(0, 1, 101)


        def fit(dueling, key):
            \"\"\"Adam on single-action targets; returns the all-action RMS error every 10 steps.\"\"\"
            model_key, data_key = jax.random.split(key)
            model = QHead(dueling, model_key)
            params, static = eqx.partition(model, eqx.is_array)
            optimizer = optax.adam(3e-3)

            def loss(params, s, a, y):
                q = jax.vmap(eqx.combine(params, static))(s)
                return jnp.mean((q[jnp.arange(s.shape[0]), a] - y) ** 2)

            def step(carry, key):
                params, opt_state = carry
                s_key, a_key, n_key = jax.random.split(key, 3)
                s = jax.random.uniform(s_key, (32,))
                a = jax.random.randint(a_key, (32,), 0, NUM_ACTIONS_D)
                y = true_q(s)[jnp.arange(32), a] + 0.1 * jax.random.normal(n_key, (32,))
                grads = jax.grad(loss)(params, s, a, y)
                updates, opt_state = optimizer.update(grads, opt_state)
                params = optax.apply_updates(params, updates)
                q_all = jax.vmap(eqx.combine(params, static))(s_eval)
                return (params, opt_state), jnp.sqrt(jnp.mean((q_all - true_q(s_eval)) ** 2))

            _, errors = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(data_key, DUEL_STEPS))
            return errors


        duel_keys = jax.random.split(jax.random.key(1), 4 if FAST else 8)
        both = jax.jit(jax.vmap(lambda k: (fit(False, k), fit(True, k))))  # one program
        plain_err, duel_err = (np.asarray(e) for e in both(duel_keys))

        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.semilogy(plain_err.mean(0), label="plain head")
        ax.semilogy(duel_err.mean(0), label="dueling head")
        ax.set(xlabel="gradient steps (32 samples, one action each)", ylabel="RMS error over all actions",
               title=f"{NUM_ACTIONS_D} actions of similar value (mean of {len(duel_keys)} seeds)")
        ax.legend()
        plt.show()
        for name, err in [("plain", plain_err), ("dueling", duel_err)]:
            below = np.flatnonzero(err.mean(0) < 0.2)
            print(f"{name} head: RMS error below 0.2 after", f"{below[0]} steps" if below.size else "never")
        """
    ),
    md(
        r"""
        The dueling head gets there first. The plain head must learn the large, shared
        $V(s)$ twenty times, once per action output, each from only the samples of that
        action; the dueling head learns it once from every sample and only has to refine the
        small advantages per action. (Both end at the noise level of the targets.) The gain
        is largest with many actions whose values are close, as in many Atari games; with
        CartPole's two actions there is little to share.

        The library's network has this head: `dqn_jax.QNetwork(..., dueling="mean")`, and
        `dqn_jax.make_train(dqn_jax.DQNConfig(dueling="mean"))` trains with it. By
        construction its Q-values minus their mean over actions are the centred advantages:
        """
    ),
    code(
        """
        dueling_net = dqn_jax.QNetwork(4, 3, (32, 32), dueling="mean", key=jax.random.key(2))
        q = jax.jit(jax.vmap(dueling_net))(jax.random.normal(jax.random.key(3), (5, 4)))
        print("Q for 5 observations:\\n", np.round(np.asarray(q), 3))
        print("config:", dqn_jax.DQNConfig(dueling="mean").dueling)
        """
    ),
    md(
        r"""
        ## 3. Prioritized experience replay

        Uniform replay spends most updates on transitions the network already predicts well.
        Prioritized replay samples transition $i$ with a probability that grows with the size
        of its last TD error $\delta_i$ (the *proportional* variant):

        $$p_i = \bigl(|\delta_i| + \epsilon\bigr)^{\alpha}, \qquad P(i) = \frac{p_i}{\sum_k p_k}.$$

        $\alpha = 0$ is uniform, $\alpha = 1$ fully proportional; $\epsilon > 0$ keeps every
        transition sampleable (its stored $\delta$ is only refreshed when it is replayed).

        Sampling non-uniformly changes the distribution the expected update is taken over,
        which biases the solution. **Importance-sampling weights** undo it by scaling each
        sampled transition's loss:

        $$w_i = \frac{\bigl(N\,P(i)\bigr)^{-\beta}}{\max_j w_j},$$

        where $N$ is the number of transitions; $\beta = 1$ corrects fully and $\beta = 0$ not
        at all (Schaul et al. anneal $\beta$ towards 1 over training). Dividing by the largest
        weight only ever scales updates down, which keeps steps stable.

        **Exercise 3.** Write `per_probabilities`.
        """
    ),
    exercise(
        '''
        def per_probabilities(td_errors, alpha, eps):
            """Proportional prioritized-replay sampling probabilities.

            Args:
                td_errors: the last TD error of each stored transition, shape (N,).
                alpha: how much prioritization (0 = uniform).
                eps: small constant so no probability is 0.

            Returns:
                P of shape (N,), summing to 1: P(i) = p_i / sum_k p_k, p_i = (|delta_i| + eps)**alpha.
            """
        ''',
        """
        priorities = (jnp.abs(td_errors) + eps) ** alpha
        return priorities / jnp.sum(priorities)
        """,
        """
        priorities from |td_errors|, then normalise
        """,
    ),
    check("dqn_jax.homework.check_per_probabilities(per_probabilities)"),
    md(
        r"""
        **Exercise 4.** Write `importance_weights`.
        """
    ),
    exercise(
        '''
        def importance_weights(probs, beta):
            """Importance-sampling weights for prioritized replay.

            Args:
                probs: the sampling probabilities of all N stored transitions, shape (N,).
                beta: strength of the correction, in [0, 1].

            Returns:
                w of shape (N,): (N * P(i))**(-beta), divided by its maximum.
            """
        ''',
        """
        weights = (probs.shape[0] * probs) ** (-beta)
        return weights / jnp.max(weights)
        """,
        """
        (N * P)**(-beta), normalised so the largest weight is 1
        """,
    ),
    check("dqn_jax.homework.check_importance_weights(importance_weights)"),
    md(
        r"""
        Sampling is then one call, `jax.random.choice(key, N, (batch_size,), p=probs)`, and
        the loss of sample $i$ is multiplied by $w_i$. Below: 10 transitions with different
        TD errors, how often each is drawn, and their weights.
        """
    ),
    uses(
        """
        td_errors = jnp.array([0.0, 0.1, -0.2, 0.3, 0.5, -0.8, 1.0, 1.5, -2.5, 4.0])
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
        index = np.arange(td_errors.shape[0])
        for j, alpha in enumerate([0.0, 0.6, 1.0]):
            probs = per_probabilities(td_errors, alpha, 0.01)
            drawn = jax.random.choice(jax.random.key(4), td_errors.shape[0], (20_000,), p=probs)
            freq = np.bincount(np.asarray(drawn), minlength=10) / 20_000
            axes[0].bar(index + (j - 1) * 0.27, freq, width=0.27, label=f"alpha={alpha}")
        axes[0].set(xlabel="transition (sorted by |TD error|)", ylabel="share of 20,000 samples",
                    title="how often each transition is replayed")
        axes[0].legend(fontsize=8)
        probs = per_probabilities(td_errors, 0.6, 0.01)
        for beta in [0.0, 0.4, 1.0]:
            axes[1].plot(index, importance_weights(probs, beta), "o-", label=f"beta={beta}")
        axes[1].set(xlabel="transition", ylabel="weight $w_i$", title="importance weights (alpha=0.6)")
        axes[1].legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        """
    ),
    md(
        r"""
        ### Faster learning: the Blind Cliffwalk

        Schaul et al.'s example of why prioritization helps. A chain of $n$ states; in each,
        one action moves one state to the right and the other ends the episode with reward
        0. Only moving right from the last state earns a reward, 1. The replay holds every
        one of the $2n$ transitions once, and a tabular learner replays one transition per
        update. With uniform sampling most updates are wasted: a state's value can only
        change after its successor's has, and the right transition to update next is one of
        $2n$. Prioritizing by $|\delta|$ finds it.

        In this tiny problem we can afford to recompute every transition's TD error before
        each sample, the *ideal* version of prioritization. (Real prioritized replay only
        refreshes the errors of the transitions it samples, gives new transitions the
        largest priority seen so far, and stores priorities in a sum tree so that sampling
        costs $O(\log N)$.) Rewards here are deterministic, so the correction is not needed:
        $\beta = 0$.
        """
    ),
    uses(
        """
        CHAIN, CLIFF_GAMMA, CLIFF_LR = 12, 0.9, 0.5
        CLIFF_UPDATES = 200 if FAST else 2_000
        s_c = jnp.repeat(jnp.arange(CHAIN), 2)
        a_c = jnp.tile(jnp.arange(2), CHAIN)  # action 1 moves right
        right, last = a_c == 1, s_c == CHAIN - 1
        r_c = jnp.where(right & last, 1.0, 0.0)
        term_c = jnp.where(right & ~last, 0.0, 1.0)
        next_c = jnp.where(right & ~last, s_c + 1, 0)
        Q_CLIFF = jnp.stack([jnp.zeros(CHAIN), CLIFF_GAMMA ** (CHAIN - 1 - jnp.arange(CHAIN))], axis=1)


        def cliffwalk(key, alpha):
            \"\"\"Tabular replay of the 2n transitions, sampled with per_probabilities(., alpha).\"\"\"

            def update(q, key):
                delta = r_c + CLIFF_GAMMA * (1 - term_c) * q[next_c].max(-1) - q[s_c, a_c]
                i = jax.random.choice(key, s_c.shape[0], p=per_probabilities(delta, alpha, 1e-3))
                q = q.at[s_c[i], a_c[i]].add(CLIFF_LR * delta[i])
                return q, jnp.mean((q - Q_CLIFF) ** 2)

            _, errors = jax.lax.scan(update, jnp.zeros((CHAIN, 2)), jax.random.split(key, CLIFF_UPDATES))
            return errors


        cliff_keys = jax.random.split(jax.random.key(5), 8 if FAST else 64)
        cliffwalk_many = jax.jit(jax.vmap(cliffwalk, in_axes=(0, None)))
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for alpha, name in [(0.0, "uniform (alpha=0)"), (0.6, "prioritized, alpha=0.6"), (1.0, "prioritized, alpha=1")]:
            errors = np.asarray(cliffwalk_many(cliff_keys, alpha)).mean(0)
            reached = np.flatnonzero(errors < 1e-3)
            ax.semilogy(errors, label=name)
            print(f"{name}: error below 1e-3 after {reached[0] if reached.size else 'more than ' + str(CLIFF_UPDATES)} updates")
        ax.set(xlabel="updates", ylabel="mean squared error of Q", title=f"Blind Cliffwalk, n = {CHAIN}")
        ax.legend()
        plt.show()
        """
    ),
    md(
        r"""
        ### Why the importance weights: prioritizing biases the answer

        Now a case where sampling does change the answer. One state, whose replay holds 10
        transitions with rewards $1, 2, \dots, 10$ and no future: the right value is their
        mean, 5.5. We prioritize by the TD errors at the start (all $\delta_i = r_i$, as the
        estimate starts at 0, with $\alpha = 1$) and keep those probabilities fixed. Without correction the
        learner converges to the *prioritized* average, which overweights the large rewards;
        with $\beta = 1$ the weights restore the uniform average.
        """
    ),
    uses(
        """
        rewards = jnp.arange(1.0, 11.0)
        probs = per_probabilities(rewards, 1.0, 0.01)
        BIAS_UPDATES = 500 if FAST else 3_000


        def estimate(key, beta):
            weights = importance_weights(probs, beta)

            def update(v, key):
                i = jax.random.choice(key, 10, p=probs)
                v = v + 0.02 * weights[i] * (rewards[i] - v)
                return v, v

            return jax.lax.scan(update, jnp.float32(0.0), jax.random.split(key, BIAS_UPDATES))[1]


        estimate_many = jax.jit(jax.vmap(estimate, in_axes=(0, None)))
        fig, ax = plt.subplots(figsize=(7, 3.4))
        for beta in [0.0, 0.5, 1.0]:
            trace = np.asarray(estimate_many(jax.random.split(jax.random.key(6), 16), beta)).mean(0)
            ax.plot(trace, label=f"beta={beta}: ends at {trace[-1]:.2f}")
        ax.axhline(float(rewards.mean()), color="k", ls="--", lw=1, label="true value 5.5")
        ax.set(xlabel="updates", ylabel="estimate", title="prioritized sampling with and without correction")
        ax.legend(fontsize=8)
        plt.show()
        """
    ),
    md(
        r"""
        With $\beta = 1$ the estimate converges to the true mean, only more slowly, since
        the weights shrink the steps of the frequently sampled transitions. That is the
        trade-off behind annealing $\beta$: little correction early, when the targets are
        moving anyway and speed matters, full correction by the end, when the answer must be
        unbiased.

        ## Summary

        * **Double DQN**: select with the online network, evaluate with the target network;
          the bias of the max grows with the number of noisy actions and Double removes most
          of it.
        * **Dueling**: $Q = V + A - \operatorname{mean}_a A$; every sample trains the shared
          state value.
        * **Prioritized replay**: $P(i) \propto (|\delta_i| + \epsilon)^\alpha$ focuses updates
          where they change something; weights $(N P(i))^{-\beta} / \max w$ undo the bias.

        These combine: Rainbow (Hessel et al., 2018) stacks them with n-step returns,
        distributional values and noisy networks.
        """
    ),
]
