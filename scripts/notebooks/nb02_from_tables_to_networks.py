"""Notebook 2: function approximation, Monte Carlo vs TD targets, fitted Q-iteration, and the
divergence of bootstrapping from the online parameters that target networks fix."""

# ruff: noqa: E501 (cell sources are notebook text, wrapped for the notebook)

from _cells import check, code, exercise, md, uses

FILENAME = "02_from_tables_to_networks.ipynb"

INTRO = r"""
Notebook 1 kept one number per state and action. That stops working as soon as states are
continuous or numerous. This notebook replaces the table by a **function** with parameters
$w$, and looks at what changes:

1. why a table cannot cover a continuous state space (CartPole);
2. learning values with function approximation, from **Monte Carlo** returns or **TD**
   targets, and the trade-off between them;
3. **fitted Q-iteration**: Q-learning as a sequence of regressions on a fixed dataset;
4. why bootstrapping from the parameters you are updating can **diverge**, and how a
   frozen **target** fixes it: the idea behind DQN's target network.
"""

CELLS = [
    md(
        "# 2 · From tables to networks",
        INTRO,
        r"""
        Exercises are marked *Exercise*; run the check cell after each.
        """,
        solution=(
            "# 2 · From tables to networks (solutions)",
            INTRO,
            r"""
            This is the solved notebook, executed at full length; the homework version is
            `notebooks/02_from_tables_to_networks.ipynb`.
            """,
        ),
    ),
    code(
        """
        import os

        # DQN_JAX_FAST=1 (used by the test suite) shortens the runs to check that every cell works;
        # the text describes the full-length runs you get without it.
        FAST = os.environ.get("DQN_JAX_FAST") == "1"

        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np

        import dqn_jax
        import dqn_jax.homework

        plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
        """
    ),
    md(
        r"""
        ## 1. Why Q-tables fail on large state spaces

        A CartPole state is four real numbers: cart position and velocity, pole angle and
        angular velocity. To use a table we would cut each number into $b$ bins, giving
        $b^4$ cells. The table learns about a cell only by visiting it, and learns *nothing*
        about its neighbours: two states a hair apart on either side of a bin edge share no
        information, while two very different states in one cell are forced to share a value.

        Below, a random policy plays CartPole for a while (one `lax.scan` over the gymnax
        environment) and we count how many cells of the table it ever visits.
        """
    ),
    code(
        """
        spec = dqn_jax.make_env("CartPole-v1")  # the gymnax environment and its parameters
        NUM_RANDOM_STEPS = 5_000 if FAST else 100_000


        @jax.jit
        def random_observations(key):
            def step(carry, key):
                obs, state = carry
                action_key, step_key = jax.random.split(key)
                action = jax.random.randint(action_key, (), 0, spec.num_actions)
                next_obs, state, _, _, _, _ = spec.env.step(step_key, state, action, spec.env_params)
                return (next_obs, state), obs

            obs, state = spec.env.reset(key, spec.env_params)
            _, observations = jax.lax.scan(step, (obs, state), jax.random.split(key, NUM_RANDOM_STEPS))
            return observations


        observations = np.asarray(random_observations(jax.random.key(0)))
        low, high = observations.min(axis=0), observations.max(axis=0)
        bins = np.arange(2, 31)
        visited = []
        for b in bins:
            cell = np.clip(((observations - low) / (high - low) * b).astype(int), 0, b - 1)
            visited.append(len({tuple(c) for c in cell}))
        visited = np.array(visited)

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        axes[0].semilogy(bins, bins.astype(float) ** 4, label="cells in the table ($b^4$)")
        axes[0].semilogy(bins, visited, label=f"cells visited in {NUM_RANDOM_STEPS:,} steps")
        axes[0].set(xlabel="bins per dimension $b$", ylabel="count", title="a table of CartPole")
        axes[0].legend(fontsize=8)
        axes[1].plot(bins, visited / bins**4)
        axes[1].set(xlabel="bins per dimension $b$", ylabel="fraction of cells visited", title="coverage")
        plt.tight_layout()
        plt.show()
        """
    ),
    md(
        r"""
        Coarse bins are visited but cannot tell apart states that need different actions;
        fine bins can, but most of them are never visited at all, and the visited ones are
        seen only a few times each. (A random policy also never reaches the states a *good*
        policy lives in.) An Atari frame makes this absurd: $256^{84 \times 84}$ possible
        screens. We need values that **generalise**: a function $\hat v(s; w)$ or
        $\hat q(s, a; w)$ whose parameters are shared across states, so that an update in
        one state also improves similar states.

        ## 2. Function approximation: Monte Carlo vs TD targets

        With a parametric value $\hat v(s; w)$, learning becomes regression towards a
        **target** $y_t$: one stochastic gradient step on $\tfrac12\,(y_t - \hat v(s_t; w))^2$ is

        $$w \leftarrow w + \alpha\,\bigl(y_t - \hat v(s_t; w)\bigr)\,\nabla_w \hat v(s_t; w).$$

        Two classic choices of target:

        * **Monte Carlo**: the return actually observed, $y_t = G_t = r_t + \gamma r_{t+1} + \dots$
          up to the end of the episode. Unbiased, but noisy (it sums many random rewards), and
          only known once the episode is over.
        * **TD(0)**: one reward plus the current estimate of the rest,
          $y_t = r_t + \gamma\,(1 - \text{done}_t)\,\hat v(s_{t+1}; w)$. Much less noisy and
          available after one step, but **biased** by the current estimate.

        The TD target depends on $w$ too, yet the update above does not differentiate through
        it: it treats $y_t$ as a constant. That is why it is called a **semi-gradient** method.

        We compare both on a **random walk** with 100 states: each episode starts in the
        middle, each step jumps uniformly up to 10 states left or right, and leaving on the
        left ends the episode with reward $-1$, on the right with $+1$ ($\gamma = 1$). The
        features aggregate states into 10 groups of 10 (a one-hot vector of the group), so
        $\hat v(s; w) = \phi(s) \cdot w$ cannot be exact.

        Both learners see the same stream of steps. First the Monte Carlo returns of a stream:

        **Exercise 1.** Write `monte_carlo_returns`. The recursion
        $G_t = r_t + \gamma\,(1 - \text{done}_t)\,G_{t+1}$ runs *backwards* in time:
        `jax.lax.scan(f, init, xs, reverse=True)` does exactly that.
        """
    ),
    exercise(
        '''
        def monte_carlo_returns(rewards, dones, gamma):
            """The return G_t of every step of a stream of episodes.

            Args:
                rewards: shape (T,), the reward of each step.
                dones: shape (T,), 1.0 on the last step of an episode, else 0.0. The stream
                    ends after its last step (G_T = 0).
                gamma: the discount.

            Returns:
                G of shape (T,): G_t = r_t + gamma * (1 - done_t) * G_{t+1}.
            """
        ''',
        """
        def backwards(g_next, step):
            r, done = step
            g = r + gamma * (1.0 - done) * g_next
            return g, g

        _, returns = jax.lax.scan(backwards, jnp.float32(0.0), (rewards, dones), reverse=True)
        return returns
        """,
        """
        scan backwards over (rewards, dones), carrying G_{t+1} and emitting G_t
        """,
    ),
    check("dqn_jax.homework.check_monte_carlo_returns(monte_carlo_returns)"),
    md(
        r"""
        **Exercise 2.** Write the semi-gradient TD(0) update for a linear value
        $\hat v(s; w) = \phi(s)\cdot w$, whose gradient is $\phi(s)$:

        $$\delta = r + \gamma\,(1 - \text{done})\,\phi(s')\cdot w - \phi(s)\cdot w, \qquad
        w \leftarrow w + \alpha\,\delta\,\phi(s).$$

        You may write it directly, or with `jax.grad` of $\tfrac12\delta^2$; in that case wrap
        the target in `jax.lax.stop_gradient`, or you get a different algorithm (the
        *residual gradient*, which also pushes $\hat v(s')$ towards $\hat v(s)$).
        """
    ),
    exercise(
        '''
        def semi_gradient_td_update(w, phi, r, done, phi_next, alpha, gamma):
            """One semi-gradient TD(0) step for the linear value v(s) = phi(s) . w.

            Args:
                w: the weights, shape (d,).
                phi, phi_next: the features of s and of the next state s', shape (d,).
                r: the reward; done: 1.0 if the episode ended with this step.
                alpha: step size; gamma: discount.

            Returns:
                The new weights, shape (d,).
            """
        ''',
        """
        target = r + gamma * (1.0 - done) * jnp.dot(phi_next, w)
        return w + alpha * (target - jnp.dot(phi, w)) * phi
        """,
        """
        delta = r + gamma * (1 - done) * phi_next . w - phi . w;  w + alpha * delta * phi
        """,
    ),
    check("dqn_jax.homework.check_semi_gradient_td_update(semi_gradient_td_update)"),
    md(
        r"""
        The random walk, its exact values (a linear solve: it is small) and the two learners.
        Both scan over the same stream with the same features; only the target differs.
        """
    ),
    code(
        """
        WALK_STATES, JUMP, WALK_START, GROUPS = 100, 10, 50, 10
        WALK_STEPS = 4_000 if FAST else 60_000
        WALK_SEEDS = 4 if FAST else 32


        def walk_stream(key):
            \"\"\"WALK_STEPS steps of the random walk: (states, rewards, dones, next_states).\"\"\"

            def step(s, key):
                size_key, sign_key = jax.random.split(key)
                jump = jax.random.randint(size_key, (), 1, JUMP + 1) * (2 * jax.random.bernoulli(sign_key) - 1)
                moved = s + jump
                done = (moved < 0) | (moved >= WALK_STATES)
                reward = jnp.where(moved < 0, -1.0, jnp.where(moved >= WALK_STATES, 1.0, 0.0))
                s_next = jnp.where(done, WALK_START, moved)
                return s_next, (s, reward, done.astype(jnp.float32), s_next)

            _, stream = jax.lax.scan(step, jnp.int32(WALK_START), jax.random.split(key, WALK_STEPS))
            return stream


        def walk_features(s):
            return jax.nn.one_hot(s // (WALK_STATES // GROUPS), GROUPS)


        def true_walk_values():
            \"\"\"v(s) = E[r + v(s')], solved exactly: (I - P) v = expected reward.\"\"\"
            P, R = np.zeros((WALK_STATES, WALK_STATES)), np.zeros(WALK_STATES)
            for s in range(WALK_STATES):
                for jump in [*range(-JUMP, 0), *range(1, JUMP + 1)]:
                    t = s + jump
                    if 0 <= t < WALK_STATES:
                        P[s, t] += 1 / (2 * JUMP)
                    else:
                        R[s] += (1.0 if t >= WALK_STATES else -1.0) / (2 * JUMP)
            return np.linalg.solve(np.eye(WALK_STATES) - P, R)


        V_WALK = true_walk_values()
        PHI_WALK = walk_features(jnp.arange(WALK_STATES))  # (100, 10)
        """
    ),
    uses(
        """
        def learn_walk(key, alpha):
            \"\"\"Linear MC and TD(0) on one stream; returns both weight trajectories.\"\"\"
            s, r, done, s_next = walk_stream(key)
            # Only steps whose episode ends inside the stream have a Monte Carlo return.
            complete = jnp.cumsum(done[::-1])[::-1] > 0
            returns = monte_carlo_returns(r, done, 1.0)
            phi, phi_next = walk_features(s), walk_features(s_next)

            def mc_step(w, x):
                phi_t, g, ok = x
                w = w + ok * alpha * (g - phi_t @ w) * phi_t
                return w, w

            def td_step(w, x):
                phi_t, r_t, done_t, phi_next_t, ok = x
                w = jnp.where(ok, semi_gradient_td_update(w, phi_t, r_t, done_t, phi_next_t, alpha, 1.0), w)
                return w, w

            w0 = jnp.zeros(GROUPS)
            _, w_mc = jax.lax.scan(mc_step, w0, (phi, returns, complete))
            _, w_td = jax.lax.scan(td_step, w0, (phi, r, done, phi_next, complete))
            return w_mc, w_td


        def rms_error(w):  # root mean squared value error over the states, w: (..., GROUPS)
            return jnp.sqrt(jnp.mean((w @ PHI_WALK.T - V_WALK) ** 2, axis=-1))


        keys = jax.random.split(jax.random.key(1), WALK_SEEDS)
        learn_many = jax.jit(jax.vmap(learn_walk, in_axes=(0, None)))
        alphas = [0.002, 0.01, 0.05]
        errors, final = {}, {}
        for alpha in alphas:
            w_mc, w_td = learn_many(keys, alpha)
            errors[alpha] = np.asarray(rms_error(w_mc)).mean(0), np.asarray(rms_error(w_td)).mean(0)
            final[alpha] = np.asarray(w_mc[:, -1].mean(0)), np.asarray(w_td[:, -1].mean(0))

        fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
        for i, alpha in enumerate(alphas):
            axes[0].plot(errors[alpha][0], color=f"C{i}", lw=1, label=f"alpha={alpha}")
            axes[1].plot(errors[alpha][1], color=f"C{i}", lw=1, label=f"alpha={alpha}")
        for ax, name in zip(axes[:2], ["Monte Carlo targets", "TD(0) targets"], strict=True):
            ax.set(xlabel="steps of experience", ylabel="RMS value error", ylim=(0, 0.6), title=name)
            ax.legend(fontsize=8)
        states = np.arange(WALK_STATES)
        axes[2].plot(states, V_WALK, "k", label="true $v(s)$")
        axes[2].plot(states, PHI_WALK @ final[0.002][0], label="MC, alpha=0.002")
        axes[2].plot(states, PHI_WALK @ final[0.05][1], label="TD, alpha=0.05")
        axes[2].set(xlabel="state", ylabel="value", title=f"final estimates (mean of {WALK_SEEDS} seeds)")
        axes[2].legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        for alpha in alphas:
            print(f"alpha={alpha}: final RMS error MC {errors[alpha][0][-1]:.3f}, TD {errors[alpha][1][-1]:.3f}")
        """
    ),
    md(
        r"""
        What the curves show (mean of the seeds; the printed numbers are the last points):

        * **Monte Carlo needs a small step.** Its target carries the noise of the whole rest
          of the episode, so with $\alpha = 0.05$ the estimate keeps jumping around and its
          error never falls. With $\alpha = 0.002$ it learns steadily and ends close to the
          best the 10 features can do: a staircase through the true line.
        * **TD tolerates a large step.** Its target contains one random step, so with
          $\alpha = 0.05$ it reaches the lowest error of all, fastest. With a small step it is
          the slowest learner: information about the ends of the walk must travel back one
          group at a time through the estimates.
        * **TD is biased.** It converges to a fixed point of its own bootstrapping rather than
          to the best fit: in the right panel its steps are flatter than the truth near the
          ends of the walk, where each group's value is built on its neighbours' estimates.

        Bootstrapping is what makes TD fast and what makes it fragile. Both sides show up in
        the next two sections.

        ## 3. Fitted Q-iteration on a fixed dataset

        Q-learning with function approximation can be seen as repeated **regression**. Given
        a fixed dataset of transitions $\{(s_i, a_i, r_i, s'_i, \text{terminated}_i)\}$ and the
        current $Q_k$:

        1. compute targets with the current function:
           $y_i = r_i + \gamma\,(1 - \text{terminated}_i)\,\max_{a'} Q_k(s'_i, a')$;
        2. fit $Q_{k+1}$ to them by supervised regression: $Q_{k+1} = \arg\min_Q \sum_i (y_i - Q(s_i, a_i))^2$.

        This is **fitted Q-iteration** (FQI; Ernst et al., 2005; Riedmiller, 2005). During
        step 2 the targets do not move: each iteration is an ordinary, stable regression.
        With linear features $Q(s, a) = \phi(s) \cdot w_a$, step 2 is a ridge regression per
        action on the samples where that action was taken:
        $w_a = (\Phi_a^\top \Phi_a + \lambda I)^{-1} \Phi_a^\top y_a$.

        Our problem: a **corridor** $x \in [0, 1]$; action 0 steps left by 0.1, action 1 right
        by 0.1 (plus a little noise); every step costs $-1$ and the episode terminates when
        $x$ reaches 1. The dataset holds 2,000 transitions from uniformly random positions and
        actions, and the features are 15 Gaussian bumps along the corridor plus a constant.

        **Exercise 3.** Write one iteration of FQI. `phi_next @ weights` has shape
        `(N, num_actions)`: take the max over the actions (axis 1), not over the samples. Use
        `jnp.linalg.solve` rather than an explicit inverse, and mask samples by
        `(actions == a)` rather than boolean indexing, which does not work under `jax.jit`.
        """
    ),
    exercise(
        '''
        def fqi_iteration(weights, phi, actions, rewards, terminated, phi_next, gamma, ridge):
            """One iteration of linear fitted Q-iteration.

            Args:
                weights: current weights, shape (d, num_actions): Q(s, a) = phi(s) . weights[:, a].
                phi, phi_next: features of s and s', shape (N, d).
                actions: shape (N,), int; rewards, terminated: shape (N,), float.
                gamma: discount; ridge: the ridge regularisation lambda.

            Returns:
                The new weights, shape (d, num_actions).
            """
        ''',
        """
        targets = rewards + gamma * (1.0 - terminated) * jnp.max(phi_next @ weights, axis=1)
        eye = jnp.eye(phi.shape[1])

        def fit(a):
            in_a = (actions == a).astype(phi.dtype)
            gram = phi.T @ (phi * in_a[:, None]) + ridge * eye
            return jnp.linalg.solve(gram, phi.T @ (in_a * targets))

        return jax.vmap(fit, out_axes=1)(jnp.arange(weights.shape[1]))
        """,
        """
        1. targets under the current weights (mask terminal samples)
        2. for each action a: ridge regression of the targets on the samples with action a
        """,
    ),
    check("dqn_jax.homework.check_fqi_iteration(fqi_iteration)"),
    code(
        """
        CORRIDOR_GAMMA, STEP, NOISE = 0.95, 0.1, 0.02
        CENTRES = jnp.linspace(0.0, 1.0, 15)


        def corridor_step(key, x, action):
            \"\"\"Returns (next_x, reward, terminated) for positions x and actions (0 left, 1 right).\"\"\"
            moved = x + STEP * (2 * action - 1) + NOISE * jax.random.normal(key, jnp.shape(x))
            terminated = (moved >= 1.0).astype(jnp.float32)
            return jnp.clip(moved, 0.0, 1.0), -jnp.ones_like(x), terminated


        def corridor_features(x):
            \"\"\"(N,) positions -> (N, 16) features: 15 Gaussian bumps and a constant.\"\"\"
            bumps = jnp.exp(-0.5 * ((x[:, None] - CENTRES) / 0.07) ** 2)
            return jnp.concatenate([bumps, jnp.ones_like(x)[:, None]], axis=1)


        k1, k2, k3 = jax.random.split(jax.random.key(2), 3)
        N_DATA = 2_000
        x_data = jax.random.uniform(k1, (N_DATA,))
        a_data = jax.random.randint(k2, (N_DATA,), 0, 2)
        x_next, r_data, term_data = corridor_step(k3, x_data, a_data)
        phi_data, phi_next_data = corridor_features(x_data), corridor_features(x_next)


        @jax.jit
        def optimal_values(x, key):
            \"\"\"Monte Carlo estimate of V*(x): always step right, 200 noisy rollouts per x.\"\"\"

            def rollout(key):
                def step(carry, key):
                    pos, alive, discount, ret = carry
                    pos, r, term = corridor_step(key, pos, jnp.ones_like(pos, jnp.int32))
                    ret = ret + alive * discount * r
                    return (pos, alive * (1 - term), discount * CORRIDOR_GAMMA, ret), None

                init = (x, jnp.ones_like(x), jnp.ones_like(x), jnp.zeros_like(x))
                (_, _, _, ret), _ = jax.lax.scan(step, init, jax.random.split(key, 40))
                return ret

            return jax.vmap(rollout)(jax.random.split(key, 200)).mean(axis=0)


        x_plot = jnp.linspace(0.0, 1.0, 201)
        v_star = optimal_values(x_plot, jax.random.key(3))
        """
    ),
    uses(
        """
        FQI_ITERS = 10 if FAST else 40
        fqi = jax.jit(fqi_iteration)
        weights = jnp.zeros((16, 2))
        snapshots = {}
        for k in range(1, FQI_ITERS + 1):
            weights = fqi(weights, phi_data, a_data, r_data, term_data, phi_next_data, CORRIDOR_GAMMA, 1e-3)
            snapshots[k] = weights

        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        phi_plot = corridor_features(x_plot)
        shown = [k for k in (1, 2, 4, 8, 16, FQI_ITERS) if k <= FQI_ITERS]
        for i, k in enumerate(dict.fromkeys(shown)):
            axes[0].plot(x_plot, (phi_plot @ snapshots[k]).max(axis=1), color=plt.cm.viridis(i / len(shown)), label=f"iteration {k}")
        axes[0].plot(x_plot, v_star, "k--", label="$V^*$ (Monte Carlo)")
        axes[0].set(xlabel="position x", ylabel=r"$\\max_a Q_k(x, a)$", title="values after k iterations")
        axes[0].legend(fontsize=8)
        q_final = phi_plot @ weights
        axes[1].plot(x_plot, q_final[:, 0], label="Q(x, left)")
        axes[1].plot(x_plot, q_final[:, 1], label="Q(x, right)")
        axes[1].set(xlabel="position x", ylabel="Q", title=f"after {FQI_ITERS} iterations")
        axes[1].legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        print(f"greedy action is 'right' at {float((q_final[:, 1] > q_final[:, 0]).mean()):.0%} of positions")
        """
    ),
    md(
        r"""
        Each iteration propagates the information about the goal one step (0.1) further back
        along the corridor: after $k$ iterations, $Q_k$ is right about $k$ steps from the end
        and still optimistic beyond (it started at 0). The greedy policy, "always right", is
        right long before the values are.

        FQI never bootstraps from a function that is changing under its feet: within an
        iteration the targets are frozen. DQN keeps that structure with a **target network**,
        a frozen copy of the parameters used only to compute targets, while the online
        parameters take many small gradient steps towards them.

        ## 4. When bootstrapping diverges, and how a frozen target helps

        What if we skip the freezing and bootstrap from the parameters we are updating, like
        TD does? With function approximation and data that does not come from following the
        policy being evaluated (a fixed dataset, a replay buffer), this can **diverge**, even
        for linear values. This is Sutton and Barto's *deadly triad*: function approximation,
        bootstrapping and off-policy data.

        A minimal example: a dataset of two transitions with zero reward and $\gamma = 0.9$,
        so the true values are all 0.

        | transition | $\phi(s)$ | $\phi(s')$ |
        |---|---|---|
        | $s_1 \to s_3$ | (1, 0) | (2, 2) |
        | $s_2 \to s_3$ | (2, 1) | (2, 2) |

        $s_3$ never appears as a starting state: its value is pure extrapolation from the
        features, as for any state the data does not cover. We take the **expected** update
        over the dataset (the average of both transitions' semi-gradient steps, no sampling
        noise) with step $\alpha = 0.3$, from $w = (1, 1)$. Bootstrapping from a target
        $w^-$:

        $$w \leftarrow w + \frac{\alpha}{2}\sum_{i=1}^{2}\bigl(r_i + \gamma\,\phi(s'_i)\cdot w^- - \phi(s_i)\cdot w\bigr)\,\phi(s_i),$$

        where **online** TD uses $w^- = w$ at every step, and a **target network** copies
        $w^- \leftarrow w$ only every $K$ steps.
        """
    ),
    code(
        """
        PHI = jnp.array([[1.0, 0.0], [2.0, 1.0]])  # phi(s1), phi(s2)
        PHI_NEXT = jnp.array([[2.0, 2.0], [2.0, 2.0]])  # phi(s3), twice
        R = jnp.zeros(2)
        DIV_GAMMA, DIV_ALPHA, DIV_STEPS = 0.9, 0.3, 600


        def expected_td_step(w, w_target):
            targets = R + DIV_GAMMA * PHI_NEXT @ w_target
            return w + DIV_ALPHA * jnp.mean((targets - PHI @ w)[:, None] * PHI, axis=0)


        @jax.jit
        def run(period):
            \"\"\"DIV_STEPS expected TD steps; the target is synced every `period` steps (1 = online).\"\"\"

            def step(carry, t):
                w, w_target = carry
                w = expected_td_step(w, w_target)
                w_target = jnp.where((t + 1) % period == 0, w, w_target)
                return (w, w_target), jnp.linalg.norm(w)

            w0 = jnp.array([1.0, 1.0])
            _, norms = jax.lax.scan(step, (w0, w0), jnp.arange(DIV_STEPS))
            return norms


        fig, ax = plt.subplots(figsize=(7, 3.6))
        for period, label in [(1, "online: bootstrap from w itself"), (5, "target synced every 5 steps"),
                              (20, "every 20 steps"), (100, "every 100 steps")]:
            ax.semilogy(np.arange(1, DIV_STEPS + 1), run(period), label=label)
        ax.set(xlabel="update steps", ylabel=r"$\\|w\\|$ (true value: 0)", title="the same updates, different targets")
        ax.legend(fontsize=8)
        plt.show()
        """
    ),
    md(
        r"""
        The online learner explodes. A step on $s_2$ moves $w$ along $\phi(s_2) = (2, 1)$: it
        raises the prediction $\phi(s_2)\cdot w$ by $5\alpha\delta$, but because the features
        are shared it raises $\phi(s_3)\cdot w$, and with it the target
        $\gamma\,\phi(s_3)\cdot w$, by $0.9 \cdot 6\alpha\delta = 5.4\alpha\delta$: the target
        runs away faster than the prediction can follow. With a target frozen for 20 or 100
        steps, each stretch between syncs is a plain least-squares regression towards fixed
        targets, which converges; across syncs this is fitted Q-iteration, which here settles
        after a couple of syncs. A sync every 5 steps is not frozen long enough for this
        problem and still diverges, only more slowly. (The online curve stops where float32
        overflows.)

        Two caveats keep this honest. Target networks do not guarantee convergence: there are
        datasets where fitted Q-iteration diverges too. And a long sync period slows learning,
        since values propagate one "iteration" per sync. DQN's choice, a target network synced
        every few thousand steps or averaged slowly with Polyak updates
        $w^- \leftarrow \tau w + (1 - \tau) w^-$, is a compromise that works well in practice.

        ## Summary

        * Tables do not generalise; parametric values share what they learn across states.
        * Monte Carlo targets are unbiased but noisy; TD targets are low-variance but
          biased, and the update is only a *semi*-gradient.
        * Fitted Q-iteration turns Q-learning into a sequence of stable regressions with
          frozen targets.
        * Bootstrapping from the parameters being updated can diverge; a target network that
          stays frozen between syncs restores the regression structure.

        Notebook 3 puts these pieces together into DQN.
        """
    ),
]
