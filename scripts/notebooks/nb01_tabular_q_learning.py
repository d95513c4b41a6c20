"""Notebook 1: tabular Q-learning on a gridworld written in JAX."""

# ruff: noqa: E501 (cell sources are notebook text, wrapped for the notebook)

from _cells import check, code, exercise, md, uses

FILENAME = "01_tabular_q_learning.ipynb"

CELLS = [
    md(
        r"""
        # 1 · Tabular Q-learning in JAX

        Q-learning learns the value of every action in every state from experience alone, one
        transition at a time. In this notebook you write its two moving parts, the **TD(0)
        update** and **epsilon-greedy exploration**, and train an agent on a small gridworld
        whose whole training run is one `jax.lax.scan`. Then we break one line on purpose,
        the **terminal mask**, and watch what it costs.

        **How the homework works.** A cell marked *Exercise* gives a signature with shapes and
        a stub that raises `NotImplementedError`. Replace the stub, run the cell, then run the
        check below it: it either prints `Passed: ...` or tells you what looks wrong. Cells
        after an exercise use your function, so they only run once it is written.
        """,
        solution=r"""
        # 1 · Tabular Q-learning in JAX (solutions)

        Q-learning learns the value of every action in every state from experience alone, one
        transition at a time. In this notebook you write its two moving parts, the **TD(0)
        update** and **epsilon-greedy exploration**, and train an agent on a small gridworld
        whose whole training run is one `jax.lax.scan`. Then we break one line on purpose,
        the **terminal mask**, and watch what it costs.

        This is the solved notebook, executed at full length; the homework version is
        `notebooks/01_tabular_q_learning.ipynb`.
        """,
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

        import dqn_jax.homework

        plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
        """
    ),
    md(
        r"""
        ## The gridworld

        The agent starts at `S` and must reach the goal `G`; `#` are walls. The four actions
        move up, right, down or left; a move into a wall or off the grid leaves the agent
        where it is. Every step costs a reward of $-1$, and the episode **terminates** when the
        agent reaches `G`. So the return from a state is minus the number of steps to the goal
        (discounted by $\gamma$), and the best policy is a shortest path.

        Like the environments of `gymnax`, `env_step` is a pure function and **resets by
        itself**: on the step that reaches the goal it returns `terminated = 1` and, as the
        next state, the start of the *next* episode. A `lax.scan` rollout never has to stop;
        the `terminated` flag is the only thing that tells a learner an episode ended.
        """
    ),
    code(
        '''
        LAYOUT = [
            "S...#...",
            ".##.#.#.",
            "..#...#.",
            "..####..",
            "......#.",
            ".####.#G",
        ]
        GRID = np.array([list(row) for row in LAYOUT])
        HEIGHT, WIDTH = GRID.shape
        NUM_STATES, NUM_ACTIONS = HEIGHT * WIDTH, 4
        START = int(np.flatnonzero(GRID.ravel() == "S")[0])
        GOAL = int(np.flatnonzero(GRID.ravel() == "G")[0])
        WALL = jnp.asarray(GRID.ravel() == "#")
        MOVES = jnp.array([[-1, 0], [0, 1], [1, 0], [0, -1]])  # up, right, down, left
        ARROWS = np.array(["↑", "→", "↓", "←"])


        def env_step(state, action):
            """One step from `state` (int32 scalar) with `action` (int32 scalar in [0, 4)).

            Returns (next_state, reward, terminated): reward -1.0 every step, terminated 1.0
            on reaching the goal, and then next_state is START (the environment resets).
            """
            row = jnp.clip(state // WIDTH + MOVES[action, 0], 0, HEIGHT - 1)
            col = jnp.clip(state % WIDTH + MOVES[action, 1], 0, WIDTH - 1)
            moved = row * WIDTH + col
            moved = jnp.where(WALL[moved], state, moved)
            terminated = (moved == GOAL).astype(jnp.float32)
            next_state = jnp.where(terminated > 0, START, moved)
            return next_state, jnp.float32(-1.0), terminated


        def show_grid(ax, values=None, q=None, title=""):
            """Draws the maze; `values` (NUM_STATES,) as colours, greedy arrows of `q`."""
            shown = np.full(NUM_STATES, np.nan) if values is None else np.array(values, float)
            shown[np.asarray(WALL)] = np.nan
            image = ax.imshow(shown.reshape(HEIGHT, WIDTH), cmap="viridis")
            for s in range(NUM_STATES):
                r, c = divmod(s, WIDTH)
                if GRID[r, c] == "#":
                    ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color="0.25"))
                elif GRID[r, c] in "SG":
                    ax.text(c, r, GRID[r, c], ha="center", va="center", fontsize=13, weight="bold", color="w")
                elif q is not None:
                    ax.text(c, r, ARROWS[int(np.argmax(q[s]))], ha="center", va="center", color="w")
            ax.set(xticks=[], yticks=[], title=title)
            ax.grid(False)
            return image


        fig, ax = plt.subplots(figsize=(4, 3))
        show_grid(ax, title="the maze")
        plt.show()
        '''
    ),
    md(
        r"""
        Since the grid is tiny we can compute the exact answer with **value iteration**, the
        Bellman optimality equation applied until it stops changing:

        $$Q^*(s, a) = r(s, a) + \gamma\,\bigl(1 - \text{terminated}(s, a)\bigr)\max_{a'} Q^*(s', a').$$

        We only use $Q^*$ to grade what Q-learning finds; the learner never sees it.
        `jax.vmap` applies `env_step` to every (state, action) pair at once.
        """
    ),
    code(
        """
        GAMMA = 0.95
        ALL_S, ALL_A = jnp.meshgrid(jnp.arange(NUM_STATES), jnp.arange(NUM_ACTIONS), indexing="ij")
        NEXT_S, REWARD, TERMINATED = jax.vmap(jax.vmap(env_step))(ALL_S, ALL_A)  # (S, A) each


        @jax.jit
        def value_iteration(gamma):
            def sweep(q, _):
                return REWARD + gamma * (1.0 - TERMINATED) * q[NEXT_S].max(axis=-1), None

            q, _ = jax.lax.scan(sweep, jnp.zeros((NUM_STATES, NUM_ACTIONS)), None, length=500)
            return q


        Q_STAR = value_iteration(GAMMA)
        V_STAR = np.asarray(Q_STAR.max(axis=1))
        OPEN = ~np.asarray(WALL) & (np.arange(NUM_STATES) != GOAL)  # the states an agent can be in
        steps_to_goal = round(np.log(1 + (1 - GAMMA) * V_STAR[START]) / np.log(GAMMA))
        print(f"V*(start) = {V_STAR[START]:.3f}: the shortest path takes {steps_to_goal} steps")

        fig, ax = plt.subplots(figsize=(5, 3.2))
        fig.colorbar(show_grid(ax, V_STAR, Q_STAR, r"$V^*(s) = \\max_a Q^*(s, a)$ and the optimal policy"), ax=ax)
        plt.show()
        """
    ),
    md(
        r"""
        ## The TD(0) update

        Q-learning keeps a table `q` of shape `(NUM_STATES, NUM_ACTIONS)`. After every
        transition $(s, a, r, s')$ it moves one entry a fraction $\alpha$ of the way towards a
        **bootstrapped target**, one real reward plus the discounted value of the best next
        action under the current table:

        $$y = r + \gamma\,(1 - \text{terminated})\,\max_{a'} Q(s', a'), \qquad
        Q(s, a) \leftarrow Q(s, a) + \alpha\,\bigl(y - Q(s, a)\bigr).$$

        $\delta = y - Q(s, a)$ is the **TD error**. The factor $(1 - \text{terminated})$ is the
        terminal mask: nothing follows the end of an episode, so after the last step the
        target is just $r$. (Here $s'$ would be the reset start state; bootstrapping from it
        would add the value of the *next* episode.)

        **Exercise 1.** Write `td0_update`. It runs inside `jax.lax.scan`, so its arguments
        are traced arrays: no Python `if` on them (multiply by `1 - terminated` instead), and
        update the table functionally with `q.at[s, a].add(...)` or `.set(...)`.
        """
    ),
    exercise(
        '''
        def td0_update(q, s, a, r, terminated, s_next, alpha, gamma):
            """One Q-learning (TD(0)) update of the table.

            Args:
                q: the Q-table, float32 array of shape (NUM_STATES, NUM_ACTIONS).
                s, a: the state and action of the transition (int32 scalars).
                r: the reward (float32 scalar).
                terminated: 1.0 if the episode ended with this step, else 0.0.
                s_next: the state after the step (int32 scalar).
                alpha: step size; gamma: discount (float scalars).

            Returns:
                The new table, shape (NUM_STATES, NUM_ACTIONS): only q[s, a] changes.
            """
        ''',
        """
        target = r + gamma * (1.0 - terminated) * jnp.max(q[s_next])
        return q.at[s, a].add(alpha * (target - q[s, a]))
        """,
        """
        target y = r + gamma * (1 - terminated) * max over a' of q[s_next, a']
        then move q[s, a] a fraction alpha towards y (use q.at[s, a]...)
        """,
    ),
    check("dqn_jax.homework.check_td0_update(td0_update)"),
    md(
        r"""
        ## Exploration: epsilon-greedy

        If the agent always took the action its table currently rates best, it would never
        try the others and could never find out that one of them is better. Epsilon-greedy
        explores with a coin flip:

        $$a = \begin{cases} \text{uniform over all actions} & \text{with probability } \varepsilon,\\
        \arg\max_a Q(s, a) & \text{otherwise.}\end{cases}$$

        The random action is drawn from *all* actions, the greedy one included, so the greedy
        action has probability $1 - \varepsilon + \varepsilon/|\mathcal{A}|$.

        **Exercise 2.** Write `epsilon_greedy`. JAX random numbers are explicit: split `key`
        into two (`jax.random.split`), one for the coin (`jax.random.uniform`) and one for
        the random action (`jax.random.randint`); choose with `jnp.where`.
        """
    ),
    exercise(
        '''
        def epsilon_greedy(key, q_values, epsilon):
            """An epsilon-greedy action for one state.

            Args:
                key: a JAX PRNG key.
                q_values: the Q-values of the current state, shape (num_actions,).
                epsilon: probability of a uniformly random action (float in [0, 1]).

            Returns:
                The action, an int32 scalar in [0, num_actions).
            """
        ''',
        """
        explore_key, action_key = jax.random.split(key)
        random_action = jax.random.randint(action_key, (), 0, q_values.shape[-1])
        greedy_action = jnp.argmax(q_values).astype(jnp.int32)
        return jnp.where(jax.random.uniform(explore_key) < epsilon, random_action, greedy_action)
        """,
        """
        split the key; with probability epsilon a uniform action over ALL actions,
        else the argmax of q_values; use jnp.where, not a Python if
        """,
    ),
    check("dqn_jax.homework.check_epsilon_greedy(epsilon_greedy)"),
    md(
        r"""
        ## A whole training run as one `lax.scan`

        The loop below is the complete agent. A step acts epsilon-greedily, steps the
        environment and applies your TD(0) update; `lax.scan` runs `STEPS_PER_LOG` steps and
        an outer scan repeats that, recording after each block how good the **greedy policy**
        is (the number of steps it needs from `S` to `G`, capped at `MAX_STEPS` when it never
        gets there) and the learned value of the start state.

        `mask` multiplies `terminated` before it reaches the update: `mask = 1` is correct
        Q-learning, and `mask = 0` is the bug we study next. Because `mask` and the seed are
        ordinary arguments, `jax.vmap` trains many agents with and without the mask in one
        compiled call.
        """
    ),
    code(
        """
        NUM_LOGS = 20 if FAST else 60  # fast: 10,000 steps, enough for the masked agents
        STEPS_PER_LOG = 500
        NUM_SEEDS = 4 if FAST else 32
        MAX_STEPS = 100  # greedy evaluation gives up after this many steps
        ALPHA, EPSILON = 0.5, 0.1


        def greedy_steps(q):
            \"\"\"Steps the greedy policy of `q` takes from START to the goal (MAX_STEPS if never).\"\"\"

            def step(carry, _):
                s, done, steps = carry
                s_next, _, terminated = env_step(s, jnp.argmax(q[s]))
                done_now = done | (terminated > 0)
                return (s_next, done_now, steps + (~done).astype(jnp.int32)), None

            init = (jnp.int32(START), jnp.bool_(False), jnp.int32(0))
            (_, _, steps), _ = jax.lax.scan(step, init, None, length=MAX_STEPS)
            return steps


        def train(key, mask):
            \"\"\"Q-learning for NUM_LOGS * STEPS_PER_LOG steps; `mask` scales the terminal flag.\"\"\"

            def env_and_update(carry, key):
                q, s = carry
                a = epsilon_greedy(key, q[s], EPSILON)
                s_next, r, terminated = env_step(s, a)
                q = td0_update(q, s, a, r, mask * terminated, s_next, ALPHA, GAMMA)
                return (q, s_next), terminated

            def block(carry, key):
                carry, terminated = jax.lax.scan(env_and_update, carry, jax.random.split(key, STEPS_PER_LOG))
                q = carry[0]
                return carry, (greedy_steps(q), q[START].max(), terminated.sum())

            init = (jnp.zeros((NUM_STATES, NUM_ACTIONS)), jnp.int32(START))
            (q, _), logs = jax.lax.scan(block, init, jax.random.split(key, NUM_LOGS))
            return q, logs


        # Seeds x {with mask, without mask}: one program, vmapped twice.
        train_many = jax.jit(jax.vmap(jax.vmap(train, in_axes=(0, None)), in_axes=(None, 0)))
        """
    ),
    uses(
        """
        keys = jax.random.split(jax.random.key(0), NUM_SEEDS)
        q_final, (greedy, v_start, episodes) = train_many(keys, jnp.array([1.0, 0.0]))
        env_steps = STEPS_PER_LOG * np.arange(1, NUM_LOGS + 1)
        print("episodes finished per seed (with mask, without):", np.asarray(episodes.sum(-1).mean(-1)))

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        q_mean = np.asarray(q_final[0].mean(axis=0))
        fig.colorbar(show_grid(axes[0], q_mean.max(axis=1), q_mean, "learned V(s) and greedy policy"), ax=axes[0])
        error = np.abs(q_mean.max(axis=1) - V_STAR)[OPEN]
        axes[1].plot(np.sort(error)[::-1], "o-", ms=3)
        axes[1].set(xlabel="state (sorted)", ylabel=r"$|V(s) - V^*(s)|$", title="error of the learned values")
        plt.tight_layout()
        plt.show()
        print(f"greedy policy from S: {float(greedy[0, :, -1].mean()):.1f} steps on average (shortest: {steps_to_goal})")
        """
    ),
    md(
        r"""
        The greedy policy finds the shortest path long before the values of every state are
        exact: a policy only needs the *ranking* of actions to be right. States the agent
        rarely visits (off the path) keep the largest errors; epsilon-greedy with
        $\varepsilon = 0.1$ seldom takes it there.

        ## What happens without the terminal mask

        Now the other half of the run: the same agents with `mask = 0`, so the target after
        reaching the goal is $-1 + \gamma \max_{a'} Q(\text{start}, a')$, the value of
        starting all over again. The learner then solves a different problem: a *continuing*
        one, in which every step costs $-1$ forever and reaching the goal only teleports you
        back to the start. There every policy is equally bad, every value tends to
        $-1/(1-\gamma) = -20$, and the goal carries no information at all.
        """
    ),
    uses(
        """
        def band(ax, x, runs, label, color):
            \"\"\"Mean over seeds, and the band where the middle half of the seeds lie.\"\"\"
            runs = np.asarray(runs, float)
            low, high = np.percentile(runs, [25, 75], axis=0)
            ax.plot(x, runs.mean(0), color=color, label=label)
            ax.fill_between(x, low, high, color=color, alpha=0.2)


        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        for i, (label, color) in enumerate([("with terminal mask", "C0"), ("without mask", "C3")]):
            band(axes[0], env_steps, greedy[i], label, color)
            band(axes[1], env_steps, v_start[i], label, color)
        axes[0].axhline(steps_to_goal, color="k", ls="--", lw=1, label="shortest path")
        axes[0].set(xlabel="env steps", ylabel="greedy steps S → G (100 = never)", title="the greedy policy")
        axes[1].axhline(V_STAR[START], color="k", ls="--", lw=1, label=r"$V^*(S)$")
        axes[1].axhline(-1 / (1 - GAMMA), color="k", ls=":", lw=1, label=r"$-1/(1-\\gamma)$")
        axes[1].set(xlabel="env steps", ylabel=r"$\\max_a Q(S, a)$", title="the learned value of the start")
        for ax in axes:
            ax.legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        print("runs whose final greedy policy reaches the goal:",
              f"with mask {int((greedy[0, :, -1] < MAX_STEPS).sum())}/{NUM_SEEDS},",
              f"without {int((greedy[1, :, -1] < MAX_STEPS).sum())}/{NUM_SEEDS}")
        """
    ),
    md(
        r"""
        (Lines: mean over seeds; bands: the middle half of the seeds, 25th to 75th percentile.)

        Without the mask the agents finish episodes only by chance: their values slide to
        $-1/(1-\gamma)$ everywhere, the greedy policy is decided by noise and mostly never
        reaches the goal. With the mask the start value settles at $V^*(S)$ and the greedy
        policy walks the shortest path.

        The same bug is quieter in other problems. With a reward of $+1$ at the goal instead
        of a cost per step, the unmasked values would still rank actions correctly but be
        inflated, because each episode would appear to go on into the next. With a network
        instead of a table (notebook 3), even a correctly stored terminal state is no
        protection: the network's $Q(s_{\text{terminal}}, \cdot)$ is whatever it generalises
        to, never exactly 0. So the mask is always $(1 - \text{terminated})$, and a time-limit
        **truncation** does not set it: the MDP itself did not end there.

        ## Summary

        * Q-learning: $Q(s, a) \leftarrow Q(s, a) + \alpha\,[r + \gamma(1 - \text{terminated})\max_{a'} Q(s', a') - Q(s, a)]$.
        * Epsilon-greedy keeps trying every action; the greedy policy is right before the values are.
        * A JAX rollout never stops, so termination must reach the update as a number. Without
          the mask the agent bootstraps from the next episode and can learn nothing.

        **Try it.** Change `EPSILON` to 0.0 or 0.5, or start the table at $-20$ instead of
        $0$ (pessimistic values explore less). How do the curves change?
        """
    ),
]
