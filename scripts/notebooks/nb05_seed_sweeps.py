"""Notebook 5: seed sweeps as one vmapped program, confidence bands, a hyper-parameter
sensitivity study over traced HParams, and why single runs mislead."""

# ruff: noqa: E501 (cell sources are notebook text, wrapped for the notebook)

from _cells import check, code, exercise, md, uses

FILENAME = "05_seed_sweeps.ipynb"

INTRO = r"""
A deep RL result from one training run is an anecdote. The same code with another seed
(another network initialisation, other exploration, other minibatches) can learn much faster,
much slower, or not at all. This notebook measures that spread and shows how to report and
compare agents honestly:

1. train **32 seeds in one call**: `jax.vmap` over the PRNG key turns a training run into a
   batch of independent runs, compiled once;
2. summarise them with a **mean and a 95% confidence band**;
3. see how often a **single run misleads**;
4. run a **sensitivity study** over the learning rate by `vmap`ping over hyper-parameters,
   which `dqn_jax` traces rather than compiles in.
"""

CELLS = [
    md(
        "# 5 · Seed sweeps: many runs in one program",
        INTRO,
        r"""
        Exercises are marked *Exercise*; run the check cell after each.
        """,
        solution=(
            "# 5 · Seed sweeps: many runs in one program (solutions)",
            INTRO,
            r"""
            This is the solved notebook, executed at full length; the homework version is
            `notebooks/05_seed_sweeps.ipynb`.
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

        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np

        import dqn_jax
        import dqn_jax.homework
        from dqn_jax.homework import t_critical  # Student-t quantile: t_critical(dof) for 95%

        plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
        """
    ),
    md(
        r"""
        ## Many seeds, one program

        `dqn_jax.make_train(config)` returns a pure function `train(key, hparams)`. Pure
        means its result depends only on its arguments, so `jax.vmap` can run it for a batch
        of keys, and `jax.jit` compiles the batch into a single XLA program:

        ```python
        train = dqn_jax.make_train(config)
        results = jax.jit(jax.vmap(train))(jax.random.split(jax.random.key(0), 32))
        ```

        Every array in `results` gains a leading axis of 32. We go one step further and also
        batch the **hyper-parameters**: `HParams` holds the numbers a sweep varies (learning
        rate, discount, exploration schedule, ...) as traced arrays, so `train(keys[i],
        hparams[i])` for a batch of `(key, hparams)` pairs is still one program. A seed sweep
        is then the special case where all hparams are equal, and the learning-rate study
        below reuses the very same compiled program.

        To keep this notebook short we train for 20,000 env steps (2,000 with
        `DQN_JAX_FAST=1`) with minibatches of 64, a smaller budget than `DQNConfig()`'s 50,000
        steps and minibatches of 128, one-step targets (`n_step=1`; the default is 3), and 4 envs
        with 2 gradient steps every 4 env steps, Adam 1e-3 and a target step of 0.05 every 4
        steps (the library's earlier defaults, which learn more slowly than today's); the
        other settings are the defaults. Many seeds are still learning at the end, which is
        exactly when seeds disagree the most.
        """
    ),
    code(
        """
        NUM_RUNS = 8 if FAST else 32
        config = dqn_jax.DQNConfig(
            total_timesteps=2_000 if FAST else 20_000,
            buffer_size=2_000 if FAST else 20_000,
            batch_size=64,
            n_step=1,
            learning_starts=500,
            log_interval=500 if FAST else 2_000,
            eval_episodes=2 if FAST else 4,
            epsilon_decay_steps=1_000 if FAST else 5_000,
            num_envs=4,
            train_frequency=4,
            gradient_steps=2,
            target_update_period=4,
            tau=0.05,
            learning_rate=1e-3,
        )
        train_many = jax.jit(jax.vmap(dqn_jax.make_train(config)))  # over (key, hparams) pairs


        def repeat(hparams, n):
            \"\"\"The same HParams n times, stacked along a new leading axis.\"\"\"
            return jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), hparams)


        default_hparams = dqn_jax.HParams.from_config(config)
        keys = jax.random.split(jax.random.key(0), NUM_RUNS)
        start = time.perf_counter()
        results = jax.block_until_ready(train_many(keys, repeat(default_hparams, NUM_RUNS)))
        print(f"{NUM_RUNS} runs x {config.total_timesteps:,} env steps: {time.perf_counter() - start:.1f} s, "
              "compilation included")

        steps = np.asarray(results.metrics.env_steps[0])
        curves = np.asarray(results.metrics.eval_return)  # (NUM_RUNS, num_logs): greedy return
        final = curves[:, -1]
        print("metrics shape:", curves.shape)

        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [2, 1]})
        axes[0].plot(steps, curves.T, color="C0", alpha=0.3, lw=1)
        axes[0].set(xlabel="env steps", ylabel=f"greedy return ({config.eval_episodes} episodes)",
                    title=f"{NUM_RUNS} seeds of one configuration", ylim=(0, 520))
        axes[1].hist(final, bins=np.linspace(0, 500, 11), orientation="horizontal", color="C0")
        axes[1].set(xlabel="seeds", ylabel="final greedy return", title="at the last logging point", ylim=(0, 520))
        plt.tight_layout()
        plt.show()
        print(f"final returns: min {final.min():.0f}, median {np.median(final):.0f}, max {final.max():.0f}")
        """
    ),
    md(
        r"""
        Same code, same hyper-parameters, only the seed differs, and the final scores cover
        most of the range. Any claim about "the" performance of this configuration has to be a
        statement about this distribution.

        ## Mean and confidence band

        The usual summary is the mean over $n$ seeds with a 95% **confidence interval** for
        the mean. With $s$ the sample standard deviation (`ddof=1`) the standard error of the
        mean is $s/\sqrt{n}$, and since $s$ itself is estimated from few seeds the interval
        uses the Student-$t$ quantile instead of the normal 1.96:

        $$\bar x \pm t_{0.975,\,n-1}\,\frac{s}{\sqrt n}.$$

        With 4 seeds $t_{0.975,3} = 3.18$, much wider than 1.96; with 32 seeds it is 2.04.
        `t_critical(dof)` (imported above) returns the quantile. The band assumes roughly
        normal means; with heavily skewed returns a bootstrap interval is the safer choice.

        **Exercise 1.** Write `confidence_band`: the mean over seeds (axis 0) and the
        half-width of its 95% interval, per logging point.
        """
    ),
    exercise(
        '''
        def confidence_band(curves):
            """Mean over seeds and the half-width of its 95% Student-t confidence interval.

            Args:
                curves: shape (num_seeds, num_points), one learning curve per seed.

            Returns:
                (mean, half_width), each of shape (num_points,):
                half_width = t_critical(num_seeds - 1) * std(ddof=1) / sqrt(num_seeds).
            """
        ''',
        """
        n = curves.shape[0]
        mean = jnp.mean(curves, axis=0)
        half_width = t_critical(n - 1) * jnp.std(curves, axis=0, ddof=1) / jnp.sqrt(n)
        return mean, half_width
        """,
        """
        reduce over axis 0 (the seeds); sample std (ddof=1); Student-t quantile
        """,
    ),
    check("dqn_jax.homework.check_confidence_band(confidence_band)"),
    uses(
        """
        def plot_band(ax, x, curves, label, color):
            mean, half = (np.asarray(v) for v in confidence_band(jnp.asarray(curves)))
            ax.plot(x, mean, color=color, lw=2, label=label)
            ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.25)


        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        plot_band(axes[0], steps, curves, f"mean of {NUM_RUNS} seeds, 95% CI", "C0")
        plot_band(axes[0], steps, curves[:4], "mean of the first 4 seeds, 95% CI", "C1")
        axes[0].set(xlabel="env steps", ylabel="greedy return", title="the same runs, summarised", ylim=(0, 520))
        axes[0].legend(fontsize=8, loc="lower right")

        # How fast does the interval shrink? Half-width of the final mean for n random seeds.
        rng = np.random.default_rng(0)
        sizes = [n for n in (2, 3, 4, 6, 8, 12, 16, 24, 32) if n <= NUM_RUNS]
        widths = [np.mean([float(confidence_band(jnp.asarray(rng.choice(final, n, replace=False))[:, None])[1][0])
                           for _ in range(50)]) for n in sizes]
        axes[1].plot(sizes, widths, "o-")
        axes[1].set(xlabel="seeds n", ylabel="95% half-width of the final mean",
                    title="uncertainty of the mean vs seeds (subsamples)")
        plt.tight_layout()
        plt.show()
        """
    ),
    md(
        r"""
        The band is about the **mean**, not about single runs: most individual curves lie
        outside it. Its width falls like $t_{0.975, n-1}/\sqrt n$: from 2 to 4 seeds it
        shrinks a lot (the $t$ quantile drops from 12.7 to 3.2), after that slowly; four times
        the seeds buy half the width.

        ## Why single runs mislead

        Suppose two people each run *this same configuration* once and compare. How often do
        they see a large difference? Every pair of our seeds is such an experiment.
        """
    ),
    code(
        """
        gaps = np.abs(final[:, None] - final[None, :])[np.triu_indices(NUM_RUNS, 1)]
        order = np.argsort(final)
        print(f"{len(gaps)} pairs of single runs of the SAME configuration:")
        for threshold in (50, 100, 200):
            print(f"  final returns differ by more than {threshold}: {np.mean(gaps > threshold):.0%} of pairs")

        fig, ax = plt.subplots(figsize=(7, 3.4))
        ax.plot(steps, curves[order[-1]], color="C2", lw=2, label=f"luckiest seed ({final[order[-1]]:.0f})")
        ax.plot(steps, curves[order[0]], color="C3", lw=2, label=f"unluckiest seed ({final[order[0]]:.0f})")
        ax.plot(steps, curves.mean(0), color="k", ls="--", label="mean of all seeds")
        ax.set(xlabel="env steps", ylabel="greedy return", ylim=(0, 520), title="same configuration, two stories")
        ax.legend(fontsize=8)
        plt.show()
        """
    ),
    md(
        r"""
        If "method B" were this same code under a new name, one run each would show a
        difference of 100 or more in a good share of comparisons. This is how spurious
        improvements get reported, and why a claim needs several seeds, a confidence interval,
        and the *same* seeds protocol for every method compared (Henderson et al., 2018;
        Agarwal et al., 2021).

        ## A sensitivity study over the learning rate

        Which learning rate works? Instead of one run per value, we run several seeds per
        value, all in **one call** of the same compiled `train_many`: 4 learning rates
        $\times$ `NUM_RUNS / 4` seeds = `NUM_RUNS` runs, each with its own `HParams`.
        `HParams.from_config(config, learning_rate=...)` builds one (and checks its range);
        the batch needs every field stacked along a leading axis.

        **Exercise 2.** Write `stack_hparams`. A `HParams` is a pytree, so
        `jax.tree.map(f, *trees)` calls `f` with the corresponding leaves of all of them.
        """
    ),
    exercise(
        '''
        def stack_hparams(hparams_list):
            """Stacks a list of HParams into one whose fields have a leading axis.

            Args:
                hparams_list: n HParams with scalar fields.

            Returns:
                One HParams; every field has shape (n,), entry i from hparams_list[i].
            """
        ''',
        """
        return jax.tree.map(lambda *leaves: jnp.stack(leaves), *hparams_list)
        """,
        """
        jax.tree.map with a function of all the lists' leaves that stacks them
        """,
    ),
    check("dqn_jax.homework.check_stack_hparams(stack_hparams)"),
    uses(
        """
        LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3]
        per_lr = NUM_RUNS // len(LEARNING_RATES)
        sweep = stack_hparams([
            dqn_jax.HParams.from_config(config, learning_rate=lr)
            for lr in LEARNING_RATES for _ in range(per_lr)
        ])
        sweep_keys = jax.random.split(jax.random.key(1), NUM_RUNS)  # fresh seeds for every run
        start = time.perf_counter()
        sweep_results = jax.block_until_ready(train_many(sweep_keys, sweep))
        print(f"{NUM_RUNS} runs in {time.perf_counter() - start:.1f} s: the program compiled above is reused")

        sweep_curves = np.asarray(sweep_results.metrics.eval_return).reshape(len(LEARNING_RATES), per_lr, -1)
        # Score each run by its mean greedy return over the second half of training: less noisy than the last point.
        late = sweep_curves[:, :, sweep_curves.shape[-1] // 2:].mean(-1)

        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        for i, lr in enumerate(LEARNING_RATES):
            plot_band(axes[0], steps, sweep_curves[i], f"lr={lr:g}", f"C{i}")
        axes[0].set(xlabel="env steps", ylabel="greedy return", ylim=(0, 520),
                    title=f"mean and 95% CI of {per_lr} seeds per learning rate")
        axes[0].legend(fontsize=8, loc="upper left")
        mean, half = (np.asarray(v) for v in confidence_band(jnp.asarray(late.T)))
        axes[1].errorbar(LEARNING_RATES, mean, yerr=half, fmt="o-", capsize=4, label="mean, 95% CI")
        for i, lr in enumerate(LEARNING_RATES):
            axes[1].scatter(np.full(per_lr, lr), late[i], color="0.5", s=10, zorder=0)
        axes[1].set(xscale="log", xlabel="learning rate", ylabel="mean greedy return, 2nd half",
                    title="sensitivity (grey: single seeds)")
        axes[1].legend(fontsize=8)
        plt.tight_layout()
        plt.show()
        for lr, m, h in zip(LEARNING_RATES, mean, half, strict=True):
            print(f"lr={lr:g}: {m:6.1f} +- {h:5.1f}")
        """
    ),
    md(
        r"""
        Read the right panel with its error bars: two learning rates whose intervals overlap
        widely are not shown to differ by this many seeds, while a value whose whole interval
        lies below another's is worse. The grey dots show why one seed per value would have
        told a random story: the spread within one learning rate is comparable to the
        differences between them. (To compare two configurations formally, test the
        difference of their means, or bootstrap it, rather than eyeballing overlaps.)

        ## Summary

        * `jax.jit(jax.vmap(make_train(config)))(keys)` trains many seeds as one XLA program.
        * Report the mean with a Student-$t$ 95% interval over seeds, and look at the
          distribution: single runs are anecdotes.
        * Traced hyper-parameters (`HParams`) turn a sensitivity study into another `vmap`,
          with no recompilation.

        **Try it.** Sweep another field, e.g. `gamma` in `{0.98, 0.99, 0.995, 0.999}` or
        `epsilon_decay_steps`, by changing the list comprehension above. Only fields of
        `HParams` can be swept this way; `DQNConfig` fields such as `batch_size` change
        array shapes and need a new program.
        """
    ),
]
